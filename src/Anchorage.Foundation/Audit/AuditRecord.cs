namespace Anchorage.Foundation.Audit;

/// <summary>
/// One line of the audit trail (JSON, camelCase, null fields left out). <see cref="Kind"/> says
/// which fields are set: a connection decision (<see cref="AuditKinds.Connection"/>) and its end
/// (<see cref="AuditKinds.ConnectionClosed"/>, same <see cref="ConnectionId"/>, with bytes and
/// duration), or a change of trust or policy (bundle, authority, policy, federation fetch).
/// </summary>
public sealed record AuditRecord
{
    /// <summary>When it happened (the injected clock).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>One of <see cref="AuditKinds"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>Links a connection's decision to its end; unique per agent run.</summary>
    public string? ConnectionId { get; init; }

    /// <summary><c>outbound</c> or <c>inbound</c>.</summary>
    public string? Direction { get; init; }

    /// <summary>The gate listener's name (agent.yaml gate.outbound[].name / inbound[].name).</summary>
    public string? Listener { get; init; }

    /// <summary>
    /// <c>allow</c>, <c>deny</c> or <c>would-deny</c> (allowed by a policy in audit mode that would
    /// deny it) for a connection, or what was done (for a change).
    /// </summary>
    public string? Decision { get; init; }

    /// <summary>Why, for a denial or a close: <c>unattested</c>, <c>policy</c>, <c>peer-verification</c>, <c>revoked</c>, ...</summary>
    public string? Reason { get; init; }

    /// <summary>The deciding policy rule, or <c>default</c>.</summary>
    public string? Rule { get; init; }

    /// <summary>The policy version that decided.</summary>
    public string? PolicyVersion { get; init; }

    /// <summary>The local process behind the connection (outbound: the caller; inbound: the forward target).</summary>
    public AuditProcess? Process { get; init; }

    /// <summary>
    /// Inbound tunnel stream: the sending gate's connection id (the <see cref="ConnectionId"/> of
    /// its own records), so both gates' records of one connection join.
    /// </summary>
    public string? PeerConnectionId { get; init; }

    /// <summary>Inbound tunnel stream: the process that opened the connection on the sending side, as its verified origin statement says.</summary>
    public AuditProcess? Origin { get; init; }

    /// <summary>Inbound tunnel stream: the sending agent whose key signed the verified origin statement.</summary>
    public string? OriginAgent { get; init; }

    /// <summary>The SPIFFE ID the gate presented for the local process.</summary>
    public string? SpiffeId { get; init; }

    /// <summary>The verified SPIFFE ID of the remote side.</summary>
    public string? PeerSpiffeId { get; init; }

    /// <summary>The remote side's trust domain.</summary>
    public string? PeerTrustDomain { get; init; }

    /// <summary>The sequence number of the bundle the peer was verified with.</summary>
    public long? BundleSequence { get; init; }

    /// <summary>The remote endpoint (<c>host:port</c>).</summary>
    public string? Remote { get; init; }

    /// <summary>Bytes received from the remote side.</summary>
    public long? BytesIn { get; init; }

    /// <summary>Bytes sent to the remote side.</summary>
    public long? BytesOut { get; init; }

    /// <summary>How long the connection lived, in milliseconds.</summary>
    public double? DurationMs { get; init; }

    /// <summary>For changes: the trust domain concerned.</summary>
    public string? TrustDomain { get; init; }

    /// <summary>For federation fetches: the URL fetched (without query).</summary>
    public string? Url { get; init; }

    /// <summary>For federation fetches: <c>updated</c>, <c>unchanged</c> or the error.</summary>
    public string? Outcome { get; init; }

    /// <summary>For bundle changes and fetches: the bundle sequence number.</summary>
    public long? Sequence { get; init; }

    /// <summary>For bundle changes and fetches: authorities added (subject key ids or JWT key ids).</summary>
    public IReadOnlyList<string>? AuthoritiesAdded { get; init; }

    /// <summary>For bundle changes and fetches: authorities removed.</summary>
    public IReadOnlyList<string>? AuthoritiesRemoved { get; init; }

    /// <summary>For authority changes: the authority's id (X.509: subject key id in hex; JWT: key id).</summary>
    public string? Authority { get; init; }

    /// <summary>For authority changes: <c>x509</c> or <c>jwt</c>.</summary>
    public string? AuthorityKind { get; init; }

    /// <summary>For authority changes: the server that owns the authority's key.</summary>
    public string? ServerId { get; init; }

    /// <summary>Free text for what no field above holds, one line.</summary>
    public string? Detail { get; init; }

    /// <summary>For <see cref="AuditKinds.AuditDropped"/>: how many records were lost because the audit queue was full.</summary>
    public long? Dropped { get; init; }

    /// <summary>For <see cref="AuditKinds.DenySummary"/>: how many deny records of one caller it stands for.</summary>
    public long? Count { get; init; }

    /// <summary>For <see cref="AuditKinds.DenySummary"/>: the time of the first denial it stands for.</summary>
    public DateTimeOffset? FirstTime { get; init; }

    /// <summary>For <see cref="AuditKinds.DenySummary"/>: the time of the last denial it stands for.</summary>
    public DateTimeOffset? LastTime { get; init; }
}

/// <summary>A process as the audit trail records it.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="Exe">The executable's path (/proc/pid/exe).</param>
/// <param name="Sha256">The executable's SHA-256 (hex, lowercase).</param>
/// <param name="Uid">The user id the process connected with (the real one when the kernel recorded it).</param>
/// <param name="Gid">The group id the process connected with (likewise).</param>
/// <param name="StartTime">Start time in clock ticks since boot (/proc/pid/stat field 22).</param>
public sealed record AuditProcess(int Pid, string? Exe, string? Sha256, uint Uid, uint Gid, ulong StartTime)
{
    /// <summary>Who decided the attribution: <c>kernel</c> (eBPF record at connect time) or <c>fallback</c> (user space); null when not said.</summary>
    public string? Attribution { get; init; }

    /// <summary>Kernel attribution: the effective uid at <c>connect()</c>.</summary>
    public uint? Euid { get; init; }

    /// <summary>Kernel attribution: the executable at <c>connect()</c> as <c>major:minor:inode</c>.</summary>
    public string? ExeFile { get; init; }

    /// <summary>Kernel attribution: the mount namespace inode at <c>connect()</c>.</summary>
    public uint? MountNamespace { get; init; }

    /// <summary>Kernel attribution: the cgroup id at <c>connect()</c>.</summary>
    public ulong? CgroupId { get; init; }
}

/// <summary>The values of <see cref="AuditRecord.Kind"/>.</summary>
public static class AuditKinds
{
    /// <summary>A connection decision (allow or deny).</summary>
    public const string Connection = "connection";

    /// <summary>The end of an allowed connection (bytes, duration, who closed it).</summary>
    public const string ConnectionClosed = "connection-closed";

    /// <summary>A bundle of some trust domain changed (added, updated, removed).</summary>
    public const string Bundle = "bundle";

    /// <summary>An authority of the local CA changed state (prepared, activated, tainted, revoked).</summary>
    public const string Authority = "authority";

    /// <summary>The policy changed (applied, reloaded, a reload rejected).</summary>
    public const string Policy = "policy";

    /// <summary>A federated bundle endpoint was fetched.</summary>
    public const string FederationFetch = "federation-fetch";

    /// <summary>A federation relationship's approval changed: <c>pending</c>, <c>approved</c>, <c>approval-revoked</c>, <c>approval-dropped</c> (its endpoint changed).</summary>
    public const string FederationApproval = "federation-approval";

    /// <summary>The audit log itself lost records (its queue was full); <see cref="AuditRecord.Dropped"/> says how many.</summary>
    public const string AuditDropped = "audit-dropped";

    /// <summary>
    /// Denials of one caller past its per-window allowance (<c>Anchorage.Hosting.Audit.DenySummarizer</c>), written
    /// as one record: <see cref="AuditRecord.Count"/>, <see cref="AuditRecord.FirstTime"/>,
    /// <see cref="AuditRecord.LastTime"/>, and the fields of the last of them.
    /// </summary>
    public const string DenySummary = "deny-summary";
}
