using System.Data.Common;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>Federation relationships and their refresh state (table <c>federation_relationships</c>, schema version 3; revisions since 5; approval and review since 6; clock skew since 7).</summary>
internal sealed class RelationshipStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    private const string RelationshipColumns =
        "trust_domain, name, owner, url, profile, endpoint_spiffe_id, ca_bundle_pem, max_staleness_ms, created_at, updated_at, " +
        "last_success, last_attempt, last_error, last_error_at, next_refresh, consecutive_failures, revision, " +
        "review_every_ms, approved_at, approved_by_uid, approved_by, approval_note, approved_authorities, rotation_gap_at, clock_skew_ms";

    private const string ApprovalSet =
        "approved_at = @approved_at, approved_by_uid = @approved_by_uid, approved_by = @approved_by, " +
        "approval_note = @approval_note, approved_authorities = @approved_authorities";

    /// <inheritdoc/>
    /// <remarks>One statement (<c>ON CONFLICT DO NOTHING</c>): of concurrent creators exactly one stores its declaration.</remarks>
    public Task<FederationRelationship> CreateRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken)
    {
        ValidateRelationship(relationship);
        return RunAsync("create federation relationship", async (c, ct) =>
        {
            var cmd = Command(
                c,
                null,
                $"INSERT INTO federation_relationships ({RelationshipColumns}) VALUES " +
                "(@td, @name, @owner, @url, @profile, @endpoint, @ca, @staleness, @now, @now, NULL, NULL, NULL, NULL, NULL, 0, 1, " +
                "@review_every, @approved_at, @approved_by_uid, @approved_by, @approval_note, @approved_authorities, NULL, NULL) " +
                "ON CONFLICT (trust_domain) DO NOTHING RETURNING created_at, updated_at, revision",
                DeclarationParameters(relationship, Rows.ToUnixMs(Time.GetUtcNow())));
            return await ReturnedAsync(cmd, relationship, ct).ConfigureAwait(false)
                ?? throw new DataStoreConflictException($"federation relationship \"{relationship.TrustDomain}\" already exists");
        }, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>One conditional statement (<c>WHERE revision = @expected</c>); the declaration columns, <c>updated_at</c> and <c>revision</c> change, nothing else.</remarks>
    public Task<FederationRelationship> UpdateRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken)
    {
        ValidateRelationship(relationship);
        ArgumentOutOfRangeException.ThrowIfLessThan(relationship.Revision, 1, nameof(relationship));
        return RunAsync("update federation relationship", async (c, ct) =>
        {
            var cmd = Command(
                c,
                null,
                "UPDATE federation_relationships SET name = @name, owner = @owner, url = @url, profile = @profile, " +
                "endpoint_spiffe_id = @endpoint, ca_bundle_pem = @ca, max_staleness_ms = @staleness, review_every_ms = @review_every, " +
                ApprovalSet + ", updated_at = @now, revision = revision + 1 " +
                "WHERE trust_domain = @td AND revision = @expected RETURNING created_at, updated_at, revision",
                [.. DeclarationParameters(relationship, Rows.ToUnixMs(Time.GetUtcNow())), ("expected", relationship.Revision)]);
            if (await ReturnedAsync(cmd, relationship, ct).ConfigureAwait(false) is { } updated)
            {
                return updated;
            }

            var read = Command(c, null, "SELECT revision FROM federation_relationships WHERE trust_domain = @td", ("td", relationship.TrustDomain.Name));
            await using var readScope = read.ConfigureAwait(false);
            var stored = await read.ExecuteScalarAsync(ct).ConfigureAwait(false) is { } value and not DBNull
                ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
                : throw new DataStoreNotFoundException($"federation relationship \"{relationship.TrustDomain}\" not found");
            throw new DataStoreStaleRevisionException(
                string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"federation relationship \"{relationship.TrustDomain}\" changed since it was read: it is at revision {stored}, the update was made from revision {relationship.Revision}; read it again"),
                stored);
        }, cancellationToken);
    }

    private static (string Name, object? Value)[] DeclarationParameters(FederationRelationship relationship, long now) =>
    [
        ("td", relationship.TrustDomain.Name),
        ("name", relationship.Name),
        ("owner", relationship.Owner),
        ("url", relationship.Url.OriginalString),
        ("profile", BundleEndpointProfiles.ToName(relationship.Profile)),
        ("endpoint", relationship.EndpointSpiffeId?.ToString()),
        ("ca", relationship.CaBundlePem),
        ("staleness", Rows.ToMs(relationship.MaxStaleness)),
        ("review_every", relationship.ReviewEvery is { } every ? Rows.ToMs(every) : null),
        ("now", now),
        .. ApprovalParameters(relationship.Approval),
    ];

    private static (string Name, object? Value)[] ApprovalParameters(FederationApproval? approval) =>
    [
        ("approved_at", approval is null ? null : Rows.ToUnixMs(approval.ApprovedAt)),
        ("approved_by_uid", approval?.ApproverUid),
        ("approved_by", approval?.Approver),
        ("approval_note", approval?.Note),
        ("approved_authorities", approval is null ? null : JsonStrings.Write(approval.AuthorityIds)),
    ];

    /// <summary>
    /// Sets (or, with null, drops) the relationship's approval, only while its stored revision is
    /// <paramref name="expectedRevision"/> (the one the approver saw); moves to the next revision so
    /// that an apply made from an older read cannot write an approval back. Keeps <c>UpdatedAt</c>.
    /// </summary>
    public Task SetApprovalAsync(TrustDomain trustDomain, FederationApproval? approval, long expectedRevision, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedRevision, 1);
        return RunAsync("set federation approval", async (c, ct) =>
        {
            var updated = await ExecuteAsync(
                c,
                null,
                "UPDATE federation_relationships SET " + ApprovalSet + ", revision = revision + 1 WHERE trust_domain = @td AND revision = @expected",
                ct,
                [("td", trustDomain.Name), ("expected", expectedRevision), .. ApprovalParameters(approval)]).ConfigureAwait(false);
            if (updated > 0)
            {
                return true;
            }

            var read = Command(c, null, "SELECT revision FROM federation_relationships WHERE trust_domain = @td", ("td", trustDomain.Name));
            await using var readScope = read.ConfigureAwait(false);
            var stored = await read.ExecuteScalarAsync(ct).ConfigureAwait(false) is { } value and not DBNull
                ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
                : throw new DataStoreNotFoundException($"federation relationship \"{trustDomain}\" not found");
            throw new DataStoreStaleRevisionException(
                string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"federation relationship \"{trustDomain}\" changed since it was read: it is at revision {stored}, the approval was made from revision {expectedRevision}; read it again"),
                stored);
        }, cancellationToken);
    }

    // The stored declaration as the statement returned it; null when the statement touched no row.
    private static async Task<FederationRelationship?> ReturnedAsync(DbCommand cmd, FederationRelationship relationship, CancellationToken ct)
    {
        await using var cmdScope = cmd.ConfigureAwait(false);
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        if (!await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            return null;
        }

        return relationship with
        {
            MaxStaleness = Rows.FromMs(Rows.ToMs(relationship.MaxStaleness))!.Value,
            CreatedAt = Rows.FromUnixMs(reader.GetInt64(0)),
            UpdatedAt = Rows.FromUnixMs(reader.GetInt64(1)),
            Revision = reader.GetInt64(2),
        };
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
        return RunWriteAsync("delete federation relationship", async (c, tx, ct) =>
        {
            await LockTrustDomainAsync(c, tx, trustDomain, ct).ConfigureAwait(false);
            if (await ExecuteAsync(c, tx, "DELETE FROM federation_relationships WHERE trust_domain = @td", ct, ("td", trustDomain.Name))
                    .ConfigureAwait(false) == 0)
            {
                return false;
            }

            await ExecuteAsync(c, tx, "DELETE FROM bundles WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false);
            await ExecuteAsync(c, tx, "DELETE FROM federation_usage WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false);
            await ExecuteAsync(c, tx, "DELETE FROM federation_fetches WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false);
            await ExecuteAsync(c, tx, "DELETE FROM federation_held WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false);
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
                "last_error_at = @last_error_at, next_refresh = @next_refresh, consecutive_failures = @failures, rotation_gap_at = @rotation_gap, clock_skew_ms = @clock_skew " +
                "WHERE trust_domain = @td",
                ct,
                ("td", trustDomain.Name),
                ("last_success", UnixMs(state.LastSuccess)),
                ("last_attempt", UnixMs(state.LastAttempt)),
                ("last_error", state.LastError),
                ("last_error_at", UnixMs(state.LastErrorAt)),
                ("next_refresh", UnixMs(state.NextRefresh)),
                ("failures", state.ConsecutiveFailures),
                ("rotation_gap", UnixMs(state.RotationWithoutOverlapAt)),
                ("clock_skew", state.ClockSkew is { } skew ? (long?)(long)skew.TotalMilliseconds : null)).ConfigureAwait(false);
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
            Endpoint = new BundleEndpoint
            {
                TrustDomain = trustDomain,
                Url = url,
                Profile = profile,
                EndpointSpiffeId = endpoint,
                CaBundlePem = Text(6),
            },
            Name = Required(1, "name"),
            Owner = Required(2, "owner"),
            MaxStaleness = TimeSpan.FromMilliseconds(reader.GetInt64(7)),
            CreatedAt = Rows.FromUnixMs(reader.GetInt64(8)),
            UpdatedAt = Rows.FromUnixMs(reader.GetInt64(9)),
            Revision = reader.GetInt64(16),
            ReviewEvery = reader.IsDBNull(17) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(17)),
            Approval = reader.IsDBNull(18) ? null : new FederationApproval
            {
                ApprovedAt = Rows.FromUnixMs(reader.GetInt64(18)),
                ApproverUid = reader.IsDBNull(19) ? null : reader.GetInt64(19),
                Approver = Text(20) ?? string.Empty,
                Note = Text(21) ?? string.Empty,
                AuthorityIds = Text(22) is { } ids ? JsonStrings.Read(ids) : [],
            },
        };
        var state = new FederationRefreshState
        {
            LastSuccess = Instant(reader, 10),
            LastAttempt = Instant(reader, 11),
            LastError = Text(12),
            LastErrorAt = Instant(reader, 13),
            NextRefresh = Instant(reader, 14),
            ConsecutiveFailures = Convert.ToInt32(reader.GetValue(15), System.Globalization.CultureInfo.InvariantCulture),
            RotationWithoutOverlapAt = Instant(reader, 23),
            ClockSkew = reader.IsDBNull(24) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(24)),
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
