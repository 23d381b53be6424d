using System.Globalization;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Policy;
using Anchorage.Foundation.Audit;
using Anchorage.Policy;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate.Auditing;

/// <summary>
/// Every record the gate writes: a connection's allow or deny, its close, a live connection kept
/// open though no longer allowed, each policy version the gate starts deciding with, and bundle
/// changes (<see cref="BundleAuditor"/>).
/// </summary>
internal sealed class GateAudit
{
    private readonly IAuditSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly BundleAuditor _bundles;
    private readonly Lock _policyLock = new();
    private string? _auditedPolicyVersion;

    public GateAudit(IAuditSink sink, TimeProvider time, ILogger logger)
    {
        _sink = sink;
        _time = time;
        _logger = logger;
        _bundles = new BundleAuditor(sink, time);
    }

    /// <summary>The deny record a connection starts with; each step of its pipeline adds what it learned.</summary>
    public static AuditRecord Pending(string connectionId, string direction, string listener, string? remote) => new()
    {
        Time = default,
        Kind = AuditKinds.Connection,
        ConnectionId = connectionId,
        Direction = direction,
        Listener = listener,
        Decision = "deny",
        Remote = remote,
    };

    /// <summary>Writes <paramref name="record"/> as a denial for <paramref name="reason"/> and logs it.</summary>
    public void Deny(AuditRecord record, string reason, string? detail)
    {
        _sink.Write(record with { Time = _time.GetUtcNow(), Reason = reason, Detail = detail });
        GateLog.Denied(_logger, record.Direction ?? "-", record.ConnectionId ?? "-", record.Listener ?? "-", reason, detail);
    }

    /// <summary>
    /// Writes the allow record of a connection (<c>would-deny</c> when a policy in audit mode let it
    /// through); returns it, the template of its close record.
    /// </summary>
    public AuditRecord Allowed(AuditRecord pending, PolicyDecision decision)
    {
        var allowed = pending with
        {
            Time = _time.GetUtcNow(),
            Decision = decision.Outcome,
            Rule = decision.Rule,
            PolicyVersion = decision.PolicyVersion,
        };
        _sink.Write(allowed);
        return allowed;
    }

    /// <summary>Writes the close record of <paramref name="connection"/>.</summary>
    public void Closed(AuditRecord allowed, GateConnection connection) => _sink.Write(allowed with
    {
        Time = _time.GetUtcNow(),
        Kind = AuditKinds.ConnectionClosed,
        Decision = null,
        Rule = null,
        PolicyVersion = null,
        Reason = connection.CloseReason,
        BytesIn = connection.Received.Bytes,
        BytesOut = connection.Sent.Bytes,
        DurationMs = _time.GetElapsedTime(connection.StartTimestamp).TotalMilliseconds,
    });

    /// <summary>A live connection no longer allowed, kept open because closeOnRevoke is off.</summary>
    public void KeptOpen(GateConnection connection, string reason) => _sink.Write(new AuditRecord
    {
        Time = _time.GetUtcNow(),
        Kind = AuditKinds.Connection,
        ConnectionId = connection.Id,
        Direction = connection.Direction,
        Listener = connection.Listener,
        Decision = "deny",
        Reason = reason,
        Process = connection.Local.Audit,
        SpiffeId = connection.LocalId.ToString(),
        PeerSpiffeId = connection.PeerId.ToString(),
        PeerTrustDomain = connection.PeerId.TrustDomain.Name,
        Remote = connection.Remote,
        Detail = "kept open: closeOnRevoke is false",
    });

    /// <summary>One record per policy the gate starts deciding with (issue 6 item 6: "one per policy change").</summary>
    public void PolicyInForce(IPolicySource source)
    {
        lock (_policyLock)
        {
            var policy = source.Current;
            if (string.Equals(policy.Version, _auditedPolicyVersion, StringComparison.Ordinal))
            {
                return;
            }

            _auditedPolicyVersion = policy.Version;
            _sink.Write(new AuditRecord
            {
                Time = _time.GetUtcNow(),
                Kind = AuditKinds.Policy,
                Decision = "in-force",
                PolicyVersion = policy.Version,
                Detail = string.Create(
                    CultureInfo.InvariantCulture,
                    $"policy {policy.Name}: {policy.Rules.Count} rules{(policy.Mode == PolicyMode.Audit ? ", mode audit (denials recorded as would-deny, not refused)" : string.Empty)}"),
            });
        }
    }

    /// <summary>Audits how the bundles in <paramref name="state"/> differ from the last state observed.</summary>
    public void Bundles(CacheState state) => _bundles.Observe(state);
}
