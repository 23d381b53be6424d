using System.Data.Common;
using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// Trust bundles (table <c>bundles</c>). Publish and set run under a per-trust-domain lock (SQLite:
/// <c>BEGIN IMMEDIATE</c>; PostgreSQL: a transaction-scoped advisory lock), so concurrent publishers
/// never repeat a sequence.
/// </summary>
internal sealed class BundleStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    public Task<StoredBundle?> GetBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync("get bundle", (c, ct) => ReadBundleAsync(c, null, trustDomain, ct), cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Ordered by trust domain name.</remarks>
    public Task<IReadOnlyList<StoredBundle>> ListBundlesAsync(CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<StoredBundle>>("list bundles", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {Rows.BundleColumns} FROM bundles ORDER BY trust_domain");
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<StoredBundle>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(Rows.ReadBundle(reader));
            }

            return list;
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// Content compared: the set of X.509 authorities (DER), the set of JWT authorities (key id and
    /// SubjectPublicKeyInfo) and the refresh hint in whole seconds (as the document stores it,
    /// SPIFFE_Trust_Domain_and_Bundle §4.1.2). Read, compare and write run in one transaction under
    /// the trust domain's lock. A stored bundle without a sequence counts as sequence 0.
    /// </remarks>
    public Task<StoredBundle> PublishBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return PublishCoreAsync(bundle.TrustDomain, (_, _, _) => Task.FromResult(bundle), cancellationToken);
    }

    /// <summary>Publishes, under the trust domain's lock, the bundle <paramref name="build"/> makes inside the transaction.</summary>
    public Task<StoredBundle> PublishCoreAsync(
        TrustDomain trustDomain, Func<DbConnection, DbTransaction, CancellationToken, Task<SpiffeBundle>> build, CancellationToken cancellationToken) =>
        RunWriteAsync("publish bundle", async (c, tx, ct) =>
        {
            await LockTrustDomainAsync(c, tx, trustDomain, ct).ConfigureAwait(false);
            var bundle = await build(c, tx, ct).ConfigureAwait(false);
            var stored = await ReadBundleAsync(c, tx, trustDomain, ct).ConfigureAwait(false);
            if (stored is not null && BundleContent.SameContent(stored.Bundle, bundle))
            {
                await tx.CommitAsync(ct).ConfigureAwait(false);
                return stored;
            }

            var sequence = checked((stored?.Bundle.SequenceNumber ?? 0) + 1);
            var published = new SpiffeBundle(
                bundle.TrustDomain,
                bundle.X509Authorities,
                bundle.JwtAuthorities,
                sequence,
                BundleContent.NormalizeHint(bundle.RefreshHint));
            var result = await WriteBundleAsync(c, tx, published, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return result;
        }, cancellationToken);

    public Task<StoredBundle> SetBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return RunWriteAsync("set bundle", async (c, tx, ct) =>
        {
            await LockTrustDomainAsync(c, tx, bundle.TrustDomain, ct).ConfigureAwait(false);
            var result = await WriteBundleAsync(c, tx, bundle, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return result;
        }, cancellationToken);
    }

    public Task<StoredBundle?> SetFederatedBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return RunWriteAsync("set federated bundle", async (c, tx, ct) =>
        {
            if (!await LockRelationshipAsync(c, tx, bundle.TrustDomain, ct).ConfigureAwait(false))
            {
                return null;
            }

            var result = await WriteBundleAsync(c, tx, bundle, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return (StoredBundle?)result;
        }, cancellationToken);
    }

    public Task<bool> DeleteBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync("delete bundle", async (c, ct) =>
            await ExecuteAsync(c, null, "DELETE FROM bundles WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false) > 0,
            cancellationToken);
    }

    private static async Task<StoredBundle?> ReadBundleAsync(DbConnection c, DbTransaction? tx, TrustDomain trustDomain, CancellationToken ct)
    {
        var cmd = Command(c, tx, $"SELECT {Rows.BundleColumns} FROM bundles WHERE trust_domain = @td", ("td", trustDomain.Name));
        await using var cmdScope = cmd.ConfigureAwait(false);
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? Rows.ReadBundle(reader) : null;
    }

    private async Task<StoredBundle> WriteBundleAsync(DbConnection c, DbTransaction tx, SpiffeBundle bundle, CancellationToken ct)
    {
        var document = Encoding.UTF8.GetString(bundle.ToUtf8Json());
        var updatedAt = Rows.Stored(Time.GetUtcNow());
        await ExecuteAsync(
            c,
            tx,
            "INSERT INTO bundles (trust_domain, document, updated_at) VALUES (@td, @document, @updated_at) " +
            "ON CONFLICT (trust_domain) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
            ct,
            ("td", bundle.TrustDomain.Name),
            ("document", document),
            ("updated_at", Rows.ToUnixMs(updatedAt))).ConfigureAwait(false);
        return new StoredBundle(bundle, updatedAt);
    }
}
