using System.Data.Common;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>Federation relationships and their refresh state (table <c>federation_relationships</c>, schema version 3).</summary>
internal abstract partial class SqlDataStore
{
    private const string RelationshipColumns =
        "trust_domain, name, owner, url, profile, endpoint_spiffe_id, ca_bundle_pem, max_staleness_ms, created_at, updated_at, " +
        "last_success, last_attempt, last_error, last_error_at, next_refresh, consecutive_failures";

    /// <inheritdoc/>
    /// <remarks>One statement: the declaration columns are replaced, the creation time and the refresh state are kept.</remarks>
    public Task<FederationRelationship> PutRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken)
    {
        ValidateRelationship(relationship);
        return RunAsync("put federation relationship", async (c, ct) =>
        {
            var now = Rows.ToUnixMs(Time.GetUtcNow());
            var cmd = Command(
                c,
                null,
                $"INSERT INTO federation_relationships ({RelationshipColumns}) VALUES " +
                "(@td, @name, @owner, @url, @profile, @endpoint, @ca, @staleness, @now, @now, NULL, NULL, NULL, NULL, NULL, 0) " +
                "ON CONFLICT (trust_domain) DO UPDATE SET name = excluded.name, owner = excluded.owner, url = excluded.url, " +
                "profile = excluded.profile, endpoint_spiffe_id = excluded.endpoint_spiffe_id, ca_bundle_pem = excluded.ca_bundle_pem, " +
                "max_staleness_ms = excluded.max_staleness_ms, updated_at = excluded.updated_at " +
                "RETURNING created_at, updated_at",
                ("td", relationship.TrustDomain.Name),
                ("name", relationship.Name),
                ("owner", relationship.Owner),
                ("url", relationship.Url.OriginalString),
                ("profile", BundleEndpointProfiles.ToName(relationship.Profile)),
                ("endpoint", relationship.EndpointSpiffeId?.ToString()),
                ("ca", relationship.CaBundlePem),
                ("staleness", Rows.ToMs(relationship.MaxStaleness)),
                ("now", now));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            await reader.ReadAsync(ct).ConfigureAwait(false);
            return relationship with
            {
                MaxStaleness = Rows.FromMs(Rows.ToMs(relationship.MaxStaleness))!.Value,
                CreatedAt = Rows.FromUnixMs(reader.GetInt64(0)),
                UpdatedAt = Rows.FromUnixMs(reader.GetInt64(1)),
            };
        }, cancellationToken);
    }

    public Task<(FederationRelationship Relationship, FederationRefreshState State)?> GetRelationshipAsync(
        TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync<(FederationRelationship, FederationRefreshState)?>("get federation relationship", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {RelationshipColumns} FROM federation_relationships WHERE trust_domain = @td", ("td", trustDomain.Name));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadRelationship(reader) : null;
        }, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Ordered by trust domain name.</remarks>
    public Task<IReadOnlyList<(FederationRelationship Relationship, FederationRefreshState State)>> ListRelationshipsAsync(CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<(FederationRelationship, FederationRefreshState)>>("list federation relationships", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {RelationshipColumns} FROM federation_relationships ORDER BY trust_domain");
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<(FederationRelationship, FederationRefreshState)>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(ReadRelationship(reader));
            }

            return list;
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>The relationship and the trust domain's bundle go in one transaction, under the bundle's lock.</remarks>
    public Task<bool> DeleteRelationshipAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync("delete federation relationship", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            await LockAsync(c, tx, "bundle:" + trustDomain.Name, ct).ConfigureAwait(false);
            if (await ExecuteAsync(c, tx, "DELETE FROM federation_relationships WHERE trust_domain = @td", ct, ("td", trustDomain.Name))
                    .ConfigureAwait(false) == 0)
            {
                return false;
            }

            await ExecuteAsync(c, tx, "DELETE FROM bundles WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task UpdateRefreshStateAsync(TrustDomain trustDomain, FederationRefreshState state, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        ArgumentNullException.ThrowIfNull(state);
        ArgumentOutOfRangeException.ThrowIfNegative(state.ConsecutiveFailures, nameof(state));
        return RunAsync("update federation refresh state", async (c, ct) =>
        {
            var updated = await ExecuteAsync(
                c,
                null,
                "UPDATE federation_relationships SET last_success = @last_success, last_attempt = @last_attempt, last_error = @last_error, " +
                "last_error_at = @last_error_at, next_refresh = @next_refresh, consecutive_failures = @failures WHERE trust_domain = @td",
                ct,
                ("td", trustDomain.Name),
                ("last_success", UnixMs(state.LastSuccess)),
                ("last_attempt", UnixMs(state.LastAttempt)),
                ("last_error", state.LastError),
                ("last_error_at", UnixMs(state.LastErrorAt)),
                ("next_refresh", UnixMs(state.NextRefresh)),
                ("failures", state.ConsecutiveFailures)).ConfigureAwait(false);
            return updated > 0
                ? true
                : throw new DataStoreNotFoundException($"federation relationship \"{trustDomain}\" not found");
        }, cancellationToken);
    }

    private static long? UnixMs(DateTimeOffset? value) => value is { } v ? Rows.ToUnixMs(v) : null;

    private static DateTimeOffset? Instant(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : Rows.FromUnixMs(reader.GetInt64(i));

    private static (FederationRelationship, FederationRefreshState) ReadRelationship(DbDataReader reader)
    {
        var key = reader.GetString(0);
        InvalidDataException Corrupt(string column, string detail) => CorruptData.Row("federation_relationships", key, column, detail);
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        string Required(int i, string column) => Text(i) ?? throw Corrupt(column, "is null");

        if (!TrustDomain.TryParse(key, out var trustDomain, out var tdError))
        {
            throw Corrupt("trust_domain", tdError);
        }

        var urlText = Required(3, "url");
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url))
        {
            throw Corrupt("url", "not an absolute URI");
        }

        var profileText = Required(4, "profile");
        if (!BundleEndpointProfiles.TryParse(profileText, out var profile))
        {
            throw Corrupt("profile", $"unknown profile \"{profileText}\"");
        }

        SpiffeId? endpoint = null;
        if (Text(5) is { } endpointText)
        {
            endpoint = SpiffeId.TryParse(endpointText, out var id, out var idError) ? id : throw Corrupt("endpoint_spiffe_id", idError);
        }

        var relationship = new FederationRelationship
        {
            TrustDomain = trustDomain,
            Name = Required(1, "name"),
            Owner = Required(2, "owner"),
            Url = url,
            Profile = profile,
            EndpointSpiffeId = endpoint,
            CaBundlePem = Text(6),
            MaxStaleness = TimeSpan.FromMilliseconds(reader.GetInt64(7)),
            CreatedAt = Rows.FromUnixMs(reader.GetInt64(8)),
            UpdatedAt = Rows.FromUnixMs(reader.GetInt64(9)),
        };
        var state = new FederationRefreshState
        {
            LastSuccess = Instant(reader, 10),
            LastAttempt = Instant(reader, 11),
            LastError = Text(12),
            LastErrorAt = Instant(reader, 13),
            NextRefresh = Instant(reader, 14),
            ConsecutiveFailures = Convert.ToInt32(reader.GetValue(15), System.Globalization.CultureInfo.InvariantCulture),
        };
        return (relationship, state);
    }

    private static void ValidateRelationship(FederationRelationship relationship)
    {
        ArgumentNullException.ThrowIfNull(relationship);
        ThrowIfEmpty(relationship.TrustDomain, nameof(relationship));
        ArgumentException.ThrowIfNullOrEmpty(relationship.Name, nameof(relationship));
        ArgumentException.ThrowIfNullOrEmpty(relationship.Owner, nameof(relationship));
        ArgumentNullException.ThrowIfNull(relationship.Url, nameof(relationship));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(relationship.MaxStaleness, TimeSpan.Zero, nameof(relationship));
    }
}
