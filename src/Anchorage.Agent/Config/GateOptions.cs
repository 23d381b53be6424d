using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Config;

/// <summary>
/// The gate (agent.yaml <c>gate:</c>): outbound listeners that attribute each connection to the
/// local process that opened it and dial the target with that process's own SVID, inbound
/// listeners that terminate mTLS for a local process, the policy source and the audit trail.
/// </summary>
public sealed record GateOptions
{
    /// <summary>A local policy file (<c>gate.policyFile</c>); null: the policy comes from the server.</summary>
    public string? PolicyFile { get; init; }

    /// <summary>The audit trail (<c>gate.audit</c>: file, maxSizeMB, keep); null: no audit file is written.</summary>
    public AuditOptions? Audit { get; init; }

    /// <summary>
    /// Close live connections a policy, bundle or authority change no longer allows
    /// (<c>gate.closeOnRevoke</c>, default true). SVID rotation never closes a connection.
    /// </summary>
    public bool CloseOnRevoke { get; init; } = true;

    /// <summary>The default <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 4096;

    /// <summary>The default <see cref="MaxConnectionsPerUid"/>.</summary>
    public const int DefaultMaxConnectionsPerUid = 1024;

    /// <summary>The default <see cref="IdleTimeout"/>.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromHours(1);

    /// <summary>Open gate connections, every listener together (<c>gate.maxConnections</c>); one more is closed at once and audited.</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>Open gate connections of one local uid (<c>gate.maxConnectionsPerUid</c>); inbound callers count in the total only.</summary>
    public int MaxConnectionsPerUid { get; init; } = DefaultMaxConnectionsPerUid;

    /// <summary>A live connection with no byte either way for this long is closed (<c>gate.idleTimeout</c>).</summary>
    public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;

    /// <summary>
    /// Outbound: offer gate-to-gate tunnels (<c>gate.tunnels</c>, default false): a peer that selects
    /// the tunnel ALPN id carries each connection as one HTTP/2 stream of a pooled mTLS connection;
    /// any other peer gets direct mTLS. Inbound listeners always accept tunnels. docs/gate-transport.md.
    /// </summary>
    public bool Tunnels { get; init; }

    /// <summary>A tunnel without streams for this long is closed (default 60 s; not read from agent.yaml).</summary>
    public TimeSpan TunnelIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The outbound listeners (<c>gate.outbound</c>).</summary>
    public IReadOnlyList<GateOutboundOptions> Outbound { get; init; } = [];

    /// <summary>The inbound listeners (<c>gate.inbound</c>).</summary>
    public IReadOnlyList<GateInboundOptions> Inbound { get; init; } = [];

    /// <summary>Transparent interception (<c>gate.transparent</c>); null: nothing is intercepted.</summary>
    public GateTransparentOptions? Transparent { get; init; }
}

/// <summary>
/// Where a gate listener accepts connections: a unix socket (<c>unix:///path</c>) or a TCP
/// address (<c>tcp://127.0.0.1:15001</c>). Exactly one of <see cref="UnixPath"/> and <see cref="Tcp"/> is set.
/// </summary>
/// <param name="UnixPath">The absolute socket path, or null.</param>
/// <param name="Tcp">The TCP address (an IP address, port 0 picks a free one), or null.</param>
public sealed record GateListenAddress(string? UnixPath, HostPort? Tcp)
{
    /// <summary>A unix socket listener.</summary>
    public static GateListenAddress Unix(string path) => new(path, null);

    /// <summary>A TCP listener.</summary>
    public static GateListenAddress TcpAt(HostPort address) => new(null, address);

    /// <inheritdoc/>
    public override string ToString() => UnixPath is not null ? "unix://" + UnixPath : "tcp://" + Tcp;
}

/// <summary>
/// One outbound listener (<c>gate.outbound[]</c>): local processes connect to <see cref="Listen"/>
/// in plain text; the gate dials <see cref="Target"/> with mTLS presenting the caller's own SVID
/// and accepts only <see cref="Peer"/> (or any ID of <see cref="PeerTrustDomain"/>).
/// </summary>
public sealed record GateOutboundOptions
{
    /// <summary>The listener's name, unique among gate listeners; audit records carry it.</summary>
    public required string Name { get; init; }

    /// <summary>Where local processes connect (unix socket, or TCP on loopback).</summary>
    public required GateListenAddress Listen { get; init; }

    /// <summary>The remote service, <c>host:port</c> (the host may be a DNS name).</summary>
    public required HostPort Target { get; init; }

    /// <summary>The exact SPIFFE ID the target must present; exclusive with <see cref="PeerTrustDomain"/>.</summary>
    public SpiffeId? Peer { get; init; }

    /// <summary>The trust domain the target's SPIFFE ID must belong to; exclusive with <see cref="Peer"/>.</summary>
    public TrustDomain? PeerTrustDomain { get; init; }

    /// <summary>Offer tunnels on this listener (<c>gate.outbound[].tunnels</c>); null: <see cref="GateOptions.Tunnels"/>.</summary>
    public bool? Tunnels { get; init; }
}

/// <summary>
/// One inbound listener (<c>gate.inbound[]</c>): remote clients connect to <see cref="Listen"/>
/// with mTLS; the gate presents the SVID of the local process listening on <see cref="Forward"/>
/// and forwards allowed connections to it in plain text.
/// </summary>
public sealed record GateInboundOptions
{
    /// <summary>The listener's name, unique among gate listeners; audit records carry it.</summary>
    public required string Name { get; init; }

    /// <summary>The TCP address remote clients connect to (port 0 picks a free one).</summary>
    public required HostPort Listen { get; init; }

    /// <summary>The local process's listening address (loopback).</summary>
    public required HostPort Forward { get; init; }
}
