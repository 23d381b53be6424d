using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Transport;

/// <summary>
/// The authenticated remote side of a gate connection, as a transport made it: what is spliced
/// with the local side, and the peer it verified (kept so changes can verify it again).
/// </summary>
internal abstract class GateChannel : ISpliceEnd, IAsyncDisposable
{
    /// <summary>The verified peer.</summary>
    public required SpiffeId PeerId { get; init; }

    /// <summary>The chain the peer presented (leaf first), verified at <see cref="HandshakeAt"/>.</summary>
    public required IReadOnlyList<X509Certificate2> PeerChain { get; init; }

    /// <summary>When the peer was verified.</summary>
    public required DateTimeOffset HandshakeAt { get; init; }

    public abstract Stream Stream { get; }

    /// <summary>Called once the connection is allowed, before any byte passes (a tunnel stream answers its CONNECT then).</summary>
    public virtual ValueTask OpenAsync() => ValueTask.CompletedTask;

    public abstract ValueTask CompleteWritesAsync();

    public abstract void Abort();

    public abstract ValueTask DisposeAsync();
}
