namespace Anchorage.Foundation.Audit;

/// <summary>
/// Where the audit trail is written and how it is rotated: the YAML mapping
/// <c>{ file: /var/log/anchorage/audit.jsonl, maxSizeMB: 100, keep: 5 }</c> (read by <see cref="AuditConfig"/>).
/// </summary>
public sealed record AuditOptions
{
    /// <summary>The default of <see cref="MaxSizeMB"/>.</summary>
    public const int DefaultMaxSizeMB = 100;

    /// <summary>The default of <see cref="Keep"/>.</summary>
    public const int DefaultKeep = 5;

    /// <summary>The largest accepted <see cref="MaxSizeMB"/> (1 TiB).</summary>
    public const int MaxMaxSizeMB = 1 << 20;

    /// <summary>The largest accepted <see cref="Keep"/>.</summary>
    public const int MaxKeep = 1000;

    /// <summary>The audit file (JSON lines), an absolute path. Rotated files are <c>FILE.1</c> (newest) to <c>FILE.keep</c>.</summary>
    public required string File { get; init; }

    /// <summary>The file is rotated before a record would take it past this size (MiB). Default 100, from 1 to 1048576.</summary>
    public int MaxSizeMB { get; init; } = DefaultMaxSizeMB;

    /// <summary>How many rotated files are kept; the oldest beyond this is deleted. Default 5, from 0 (no history) to 1000.</summary>
    public int Keep { get; init; } = DefaultKeep;
}
