using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>Observed use of federated trust domains (table <c>federation_usage</c>, schema version 7).</summary>
internal sealed class UsageStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    private const string UsageColumns = "trust_domain, agent_id, direction, allowed, denied, last_allowed, last_denied, reported_at, listener";

    // Counts add up; a last-seen time only moves forward (a late report never takes it back).
    private static readonly string Upsert =
        $"INSERT INTO federation_usage ({UsageColumns}) VALUES (@td, @agent, @direction, @allowed, @denied, @last_allowed, @last_denied, @now, @listener) " +
        "ON CONFLICT (trust_domain, agent_id, direction, listener) DO UPDATE SET " +
        "allowed = federation_usage.allowed + excluded.allowed, " +
        "denied = federation_usage.denied + excluded.denied, " +
        "last_allowed = " + Later("last_allowed") + ", " +
        "last_denied = " + Later("last_denied") + ", " +
        "reported_at = excluded.reported_at";

    /// <inheritdoc cref="IDataStore.AddUsageAsync"/>
    public Task<int> AddUsageAsync(SpiffeId agent, IReadOnlyList<FederationUsage> counts, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agent, nameof(agent));
        ArgumentNullException.ThrowIfNull(counts);
        foreach (var count in counts)
        {
            ArgumentNullException.ThrowIfNull(count, nameof(counts));
            ThrowIfEmpty(count.TrustDomain, nameof(counts));
            if (!FederationUsage.IsDirection(count.Direction) || count.Allowed < 0 || count.Denied < 0 || count.Listener is null || count.Listener.Length > FederationUsage.MaxListenerLength)
            {
                throw new ArgumentException($"usage of {count.TrustDomain}: direction must be inbound or outbound, counts 0 or more and the listener at most 128 characters", nameof(counts));
            }
        }

        return RunWriteAsync("add federation usage", async (c, tx, ct) =>
        {
            var now = Rows.ToUnixMs(Time.GetUtcNow());
            var stored = 0;
            foreach (var count in counts)
            {
                // Only relationships are governed: a report naming any other trust domain stores nothing.
                if (!await LockRelationshipAsync(c, tx, count.TrustDomain, ct).ConfigureAwait(false))
                {
                    continue;
                }

                stored += await ExecuteAsync(
                    c,
                    tx,
                    Upsert,
                    ct,
                    ("td", count.TrustDomain.Name),
                    ("agent", agent.ToString()),
                    ("direction", count.Direction),
                    ("listener", count.Listener),
                    ("allowed", count.Allowed),
                    ("denied", count.Denied),
                    ("last_allowed", count.LastAllowed is { } la ? Rows.ToUnixMs(la) : null),
                    ("last_denied", count.LastDenied is { } ld ? Rows.ToUnixMs(ld) : null),
                    ("now", now)).ConfigureAwait(false) > 0 ? 1 : 0;
            }

            await tx.CommitAsync(ct).ConfigureAwait(false);
            return stored;
        }, cancellationToken);
    }

    /// <inheritdoc cref="IDataStore.ListUsageAsync"/>
    public Task<IReadOnlyList<FederationUsage>> ListUsageAsync(TrustDomain? trustDomain, CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<FederationUsage>>("list federation usage", async (c, ct) =>
        {
            var cmd = trustDomain is { } td
                ? Command(c, null, $"SELECT {UsageColumns} FROM federation_usage WHERE trust_domain = @td ORDER BY trust_domain, agent_id, direction, listener", ("td", td.Name))
                : Command(c, null, $"SELECT {UsageColumns} FROM federation_usage ORDER BY trust_domain, agent_id, direction, listener");
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<FederationUsage>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var name = reader.GetString(0);
                if (!TrustDomain.TryParse(name, out var parsed, out _))
                {
                    throw CorruptData.Row("federation_usage", name, "trust_domain", "is not a trust domain");
                }

                list.Add(new FederationUsage(
                    parsed,
                    reader.GetString(1),
                    reader.GetString(2),
                    reader.GetInt64(3),
                    reader.GetInt64(4),
                    reader.IsDBNull(5) ? null : Rows.FromUnixMs(reader.GetInt64(5)),
                    reader.IsDBNull(6) ? null : Rows.FromUnixMs(reader.GetInt64(6)),
                    Rows.FromUnixMs(reader.GetInt64(7)))
                {
                    Listener = reader.GetString(8),
                });
            }

            return list;
        }, cancellationToken);

    private static string Later(string column) =>
        $"CASE WHEN excluded.{column} IS NULL OR (federation_usage.{column} IS NOT NULL AND federation_usage.{column} >= excluded.{column}) " +
        $"THEN federation_usage.{column} ELSE excluded.{column} END";
}
