using Anchorage.Agent.Node;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Auditing;

/// <summary>
/// Counts every connection decision the gate writes into a <see cref="UsageRecorder"/> (observed
/// use, issue 15 item 3), then passes the record on. It sits before the deny summarizer, so a
/// flood of denials is counted even when its records are summarized.
/// </summary>
/// <remarks>
/// Counted: connection records with a direction and the peer's trust domain; <c>allow</c> and
/// <c>would-deny</c> (the bytes passed) as allowed, <c>deny</c> as denied. Not counted: a denial
/// before the peer's trust domain is known (an unattested caller at a trust-domain listener), and
/// the record of a live connection kept open after a change (it was counted when it opened).
/// </remarks>
public sealed class UsageAuditSink(IAuditSink next, UsageRecorder usage) : IAuditSink
{
    /// <inheritdoc/>
    public void Write(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Kind == AuditKinds.Connection
            && record.Direction is { } direction
            && record.Reason is not (GateReasons.PolicyChanged or GateReasons.IdentityRemoved or GateReasons.BundleRemoved or GateReasons.AuthorityRevoked)
            && TrustDomain.TryParse(record.PeerTrustDomain ?? string.Empty, out var peer, out _))
        {
            switch (record.Decision)
            {
                case "allow" or "would-deny":
                    usage.Record(peer, direction, allowed: true, record.Listener ?? string.Empty);
                    break;
                case "deny":
                    usage.Record(peer, direction, allowed: false, record.Listener ?? string.Empty);
                    break;
            }
        }

        next.Write(record);
    }
}
