using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>The federated bundle sequences agents report holding (table <c>federation_held</c>, schema version 8).</summary>
internal sealed class HeldBundleStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    /// <inheritdoc cref="IDataStore.SetHeldBundlesAsync"/>
    public Task<int> SetHeldBundlesAsync(SpiffeId agent, IReadOnlyList<(TrustDomain TrustDomain, ulong Sequence)> held, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agent, nameof(agent));
        ArgumentNullException.ThrowIfNull(held);
        foreach (var (trustDomain, _) in held)
        {
            ThrowIfEmpty(trustDomain, nameof(held));
        }

        return RunWriteAsync("set held federated bundles", async (c, tx, ct) =>
        {
            var now = Rows.ToUnixMs(Time.GetUtcNow());
            await ExecuteAsync(c, tx, "DELETE FROM federation_held WHERE agent_id = @agent", ct, ("agent", agent.ToString())).ConfigureAwait(false);
            var stored = 0;
            foreach (var (trustDomain, sequence) in held.DistinctBy(h => h.TrustDomain))
            {
                if (!await LockRelationshipAsync(c, tx, trustDomain, ct).ConfigureAwait(false))
                {
                    continue;
                }

                stored += await ExecuteAsync(
                    c,
                    tx,
                    "INSERT INTO federation_held (trust_domain, agent_id, sequence, reported_at) VALUES (@td, @agent, @sequence, @now)",
                    ct,
                    ("td", trustDomain.Name),
                    ("agent", agent.ToString()),
                    // The bit pattern of the uint64 (bigint is signed in both dialects).
                    ("sequence", unchecked((long)sequence)),
                    ("now", now)).ConfigureAwait(false);
            }

            await tx.CommitAsync(ct).ConfigureAwait(false);
            return stored;
        }, cancellationToken);
    }

    /// <inheritdoc cref="IDataStore.ListHeldBundlesAsync"/>
    public Task<IReadOnlyList<FederationHeldBundle>> ListHeldBundlesAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync<IReadOnlyList<FederationHeldBundle>>("list held federated bundles", async (c, ct) =>
        {
            var cmd = Command(c, null, "SELECT agent_id, sequence, reported_at FROM federation_held WHERE trust_domain = @td ORDER BY agent_id", ("td", trustDomain.Name));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<FederationHeldBundle>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(new FederationHeldBundle(reader.GetString(0), unchecked((ulong)reader.GetInt64(1)), Rows.FromUnixMs(reader.GetInt64(2))));
            }

            return list;
        }, cancellationToken);
    }
}
