namespace Anchorage.Agent.Gate.Provenance;

/// <summary>
/// The claims of an origin statement (docs/gate-transport.md, "Origin statement"): the process
/// that opened one connection on the sending side, the sending agent, and the tunnel the
/// statement is bound to.
/// </summary>
internal sealed record OriginClaims
{
    /// <summary><c>cid</c>: the sending gate's connection id (equals the stream's <c>anchorage-connection-id</c>).</summary>
    public required string ConnectionId { get; init; }

    /// <summary><c>agent</c>: the sending agent's SPIFFE ID (the key that signs).</summary>
    public required string AgentId { get; init; }

    /// <summary><c>sub</c>: the SPIFFE ID the sending gate presented for the process (the tunnel's client certificate).</summary>
    public required string Subject { get; init; }

    /// <summary><c>pid</c>.</summary>
    public required int Pid { get; init; }

    /// <summary><c>exe</c>: the executable's path, if known.</summary>
    public string? Exe { get; init; }

    /// <summary><c>sha256</c>: the executable's SHA-256 (hex, lowercase), if known.</summary>
    public string? Sha256 { get; init; }

    /// <summary><c>uid</c>.</summary>
    public required uint Uid { get; init; }

    /// <summary><c>gid</c>.</summary>
    public required uint Gid { get; init; }

    /// <summary><c>start</c>: the process start time in clock ticks since boot (/proc/pid/stat field 22).</summary>
    public required ulong StartTime { get; init; }

    /// <summary><c>iat</c>: when it was signed, in milliseconds since the Unix epoch.</summary>
    public required long IssuedAtMs { get; init; }

    /// <summary><c>cli</c>, <c>srv</c>, <c>nonce</c>: the tunnel it is bound to.</summary>
    public required TunnelBinding Binding { get; init; }
}
