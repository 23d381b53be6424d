namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// One application connection as one extended CONNECT stream of a tunnel (outbound side):
/// completing writes sends END_STREAM (the caller's half-close crosses the tunnel), aborting
/// resets this stream only (RST_STREAM); the tunnel stays.
/// </summary>
internal sealed class TunnelOutboundChannel(TunnelStream stream) : GateChannel
{
    public override Stream Stream => stream;

    public override ValueTask CompleteWritesAsync()
    {
        stream.CompleteWrites();
        return ValueTask.CompletedTask;
    }

    public override void Abort() => stream.Reset();

    public override ValueTask DisposeAsync()
    {
        stream.Dispose();
        return ValueTask.CompletedTask;
    }
}
