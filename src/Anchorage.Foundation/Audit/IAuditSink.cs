namespace Anchorage.Foundation.Audit;

/// <summary>Where audit records go. Writing never throws into the caller and never blocks on I/O for long.</summary>
public interface IAuditSink
{
    /// <summary>Appends <paramref name="record"/>.</summary>
    void Write(AuditRecord record);
}
