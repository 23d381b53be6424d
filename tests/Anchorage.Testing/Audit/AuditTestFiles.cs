using Anchorage.Foundation.Audit;

namespace Anchorage.Testing.Audit;

/// <summary>A temporary directory for audit files, deleted on dispose.</summary>
public sealed class AuditDir : IDisposable
{
    public AuditDir() => Path = Directory.CreateTempSubdirectory("anchorage-audit-").FullName;

    public string Path { get; }

    public string File(string name = "audit.jsonl") => System.IO.Path.Join(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

public static class Records
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 23, 1, 0, 0, TimeSpan.Zero);

    public static AuditRecord Numbered(long n) => new()
    {
        Time = T0.AddSeconds(n),
        Kind = AuditKinds.Policy,
        Decision = "applied",
        Sequence = n,
    };

    public static string[] Lines(string file) =>
        System.IO.File.Exists(file) ? System.IO.File.ReadAllLines(file) : [];
}
