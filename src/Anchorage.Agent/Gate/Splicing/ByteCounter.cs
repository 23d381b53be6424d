namespace Anchorage.Agent.Gate.Splicing;

/// <summary>Bytes carried so far by one direction of a splice; read while the copy runs.</summary>
internal sealed class ByteCounter
{
    private long _bytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Add(int count) => Interlocked.Add(ref _bytes, count);
}
