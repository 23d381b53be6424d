using Anchorage.Hosting.Audit;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// PLACEHOLDER until AuditLog (branch wt-audit) is merged: drops every record. The agent composes
/// the gate with it so the gate runs; the audit file of gate.audit is not written yet.
/// </summary>
internal sealed class DiscardingAuditSink : IAuditSink
{
    public static readonly DiscardingAuditSink Instance = new();

    public void Write(AuditRecord record)
    {
    }
}
