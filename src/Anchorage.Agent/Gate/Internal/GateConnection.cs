using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Policy;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>A live, allowed gate connection: what was decided and verified, kept so changes can re-check it.</summary>
internal sealed class GateConnection : IDisposable
{
    private readonly CancellationTokenSource _closing = new();
    private string? _closeReason;

    public required string Id { get; init; }

    public required string Direction { get; init; }

    public required string Listener { get; init; }

    public required LocalProcess Local { get; init; }

    /// <summary>The SPIFFE ID presented for the local process.</summary>
    public required SpiffeId LocalId { get; init; }

    public required SpiffeId PeerId { get; init; }

    /// <summary>The chain the peer presented (leaf first), verified at <see cref="HandshakeAt"/>.</summary>
    public required IReadOnlyList<X509Certificate2> PeerChain { get; init; }

    public required DateTimeOffset HandshakeAt { get; init; }

    public required PolicyRequest Request { get; init; }

    public required string Remote { get; init; }

    public required long StartTimestamp { get; init; }

    /// <summary>Bytes carried from the remote side to the local one.</summary>
    public ByteCounter Received { get; } = new();

    /// <summary>Bytes carried from the local side to the remote one.</summary>
    public ByteCounter Sent { get; } = new();

    private long _activityBytes;
    private long _activityTimestamp = -1;

    /// <summary>
    /// How long no byte has passed either way, as far as the calls so far saw (the registry's watch
    /// calls it every second): the first call, and each that sees the counters moved, starts over.
    /// </summary>
    public TimeSpan IdleFor(TimeProvider time)
    {
        var bytes = Sent.Bytes + Received.Bytes;
        if (_activityTimestamp < 0 || bytes != _activityBytes)
        {
            _activityBytes = bytes;
            _activityTimestamp = time.GetTimestamp();
            return TimeSpan.Zero;
        }

        return time.GetElapsedTime(_activityTimestamp);
    }

    /// <summary>1 once a change found it no longer allowed while closeOnRevoke is off (audited once).</summary>
    public int ReportedStale;

    /// <summary>Cancelled when the gate closes the connection.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Why the gate closed it; null when an end closed it.</summary>
    public string? CloseReason => Volatile.Read(ref _closeReason);

    /// <summary>Closes the connection for <paramref name="reason"/>; false when it was already closing.</summary>
    public bool TryClose(string reason)
    {
        if (Interlocked.CompareExchange(ref _closeReason, reason, null) is not null)
        {
            return false;
        }

        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Ended meanwhile.
        }

        return true;
    }

    public void Dispose()
    {
        _closing.Dispose();
        Local.Dispose();
    }
}
