using Anchorage.Protos.Common.V1;

namespace Anchorage.Cli.Internal;

/// <summary>How entries look in tables and key/value blocks.</summary>
internal static class EntryOutput
{
    public static void WriteTable(TextWriter writer, IEnumerable<Entry> entries) => Tables.Write(
        writer,
        ["ID", "SPIFFE ID", "PARENT ID", "SELECTORS", "X509 TTL", "JWT TTL"],
        entries.Select(e => new[]
        {
            e.Id,
            e.SpiffeId,
            e.ParentId,
            Tables.List(e.Selectors.Select(Selectors.Format)),
            Durations.Format(e.X509SvidTtlSeconds),
            Durations.Format(e.JwtSvidTtlSeconds),
        }));

    public static void WriteFields(TextWriter writer, Entry entry) => Tables.WriteFields(writer,
    [
        ("id", entry.Id),
        ("spiffe id", entry.SpiffeId),
        ("parent id", entry.ParentId),
        ("selectors", Tables.List(entry.Selectors.Select(Selectors.Format))),
        ("x509 ttl", Durations.Format(entry.X509SvidTtlSeconds)),
        ("jwt ttl", Durations.Format(entry.JwtSvidTtlSeconds)),
        ("federates with", Tables.List(entry.FederatesWith)),
        ("dns names", Tables.List(entry.DnsNames)),
        ("hint", entry.Hint.Length == 0 ? "-" : entry.Hint),
        ("admin", entry.Admin ? "yes" : "no"),
        ("downstream", entry.Downstream ? "yes" : "no"),
        ("revision", entry.RevisionNumber.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("created", Tables.Time(entry.CreatedAt)),
    ]);
}
