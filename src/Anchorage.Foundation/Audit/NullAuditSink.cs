namespace Anchorage.Foundation.Audit;

/// <summary>The audit sink when no audit file is configured: every record is discarded.</summary>
public sealed class NullAuditSink : IAuditSink
{
    /// <summary>The one instance.</summary>
    public static readonly NullAuditSink Instance = new();

    private NullAuditSink()
    {
    }

    /// <inheritdoc/>
    public void Write(AuditRecord record)
    {
    }
}
