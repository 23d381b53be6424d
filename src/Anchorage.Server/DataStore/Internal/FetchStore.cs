using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>The fetch history of federation relationships (table <c>federation_fetches</c>, schema version 8).</summary>
internal sealed class FetchStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    private const string FetchColumns = "trust_domain, fetched_at, outcome, message, sequence, refresh_hint_ms, clock_skew_ms";

    // The newest HistoryLimit rows of the trust domain stay; ids break ties between equal times.
    private static readonly string Prune =
        "DELETE FROM federation_fetches WHERE trust_domain = @td AND id NOT IN " +
        "(SELECT id FROM federation_fetches WHERE trust_domain = @td ORDER BY fetched_at DESC, id DESC LIMIT " + FederationFetch.HistoryLimit + ")";

    /// <inheritdoc cref="IDataStore.AddFetchAsync"/>
    public Task<bool> AddFetchAsync(TrustDomain trustDomain, FederationFetch fetch, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        ArgumentNullException.ThrowIfNull(fetch);
        if (!FederationFetch.IsOutcome(fetch.Outcome))
        {
            throw new ArgumentException($"fetch of {trustDomain}: outcome must be ok, not-modified or error", nameof(fetch));
        }

        var message = fetch.Message is { Length: > FederationFetch.MaxMessageLength } longer ? longer[..FederationFetch.MaxMessageLength] : fetch.Message;
        return RunWriteAsync("add federation fetch", async (c, tx, ct) =>
        {
            if (!await LockRelationshipAsync(c, tx, trustDomain, ct).ConfigureAwait(false))
            {
                return false;
            }

            await ExecuteAsync(
                c,
                tx,
                $"INSERT INTO federation_fetches ({FetchColumns}) VALUES (@td, @at, @outcome, @message, @sequence, @hint, @skew)",
                ct,
                ("td", trustDomain.Name),
                ("at", Rows.ToUnixMs(fetch.Time)),
                ("outcome", fetch.Outcome),
                ("message", message),
                ("sequence", fetch.Sequence is { } s ? unchecked((long)s) : null),
                ("hint", fetch.RefreshHint is { } h ? (long)h.TotalMilliseconds : null),
                ("skew", fetch.ClockSkew is { } k ? (long)k.TotalMilliseconds : null)).ConfigureAwait(false);
            await ExecuteAsync(c, tx, Prune, ct, ("td", trustDomain.Name)).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc cref="IDataStore.ListFetchesAsync"/>
    public Task<IReadOnlyList<FederationFetch>> ListFetchesAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync<IReadOnlyList<FederationFetch>>("list federation fetches", async (c, ct) =>
        {
            var cmd = Command(
                c,
                null,
                $"SELECT {FetchColumns} FROM federation_fetches WHERE trust_domain = @td ORDER BY fetched_at DESC, id DESC LIMIT {FederationFetch.HistoryLimit}",
                ("td", trustDomain.Name));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<FederationFetch>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var outcome = reader.GetString(2);
                if (!FederationFetch.IsOutcome(outcome))
                {
                    throw CorruptData.Row("federation_fetches", trustDomain.Name, "outcome", "is not ok, not-modified or error");
                }

                list.Add(new FederationFetch(
                    Rows.FromUnixMs(reader.GetInt64(1)),
                    outcome,
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    // Stored as the bit pattern of the uint64 (bigint is signed in both dialects).
                    reader.IsDBNull(4) ? null : unchecked((ulong)reader.GetInt64(4)),
                    reader.IsDBNull(5) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(5)),
                    reader.IsDBNull(6) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(6))));
            }

            return list;
        }, cancellationToken);
    }
}
