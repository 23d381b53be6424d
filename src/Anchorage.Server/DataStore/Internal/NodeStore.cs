using System.Data.Common;
using System.Globalization;
using Anchorage.Server.Attestation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// Join tokens and attested nodes. Every node write that can race another (renewal, re-attestation,
/// ban, promotion, eviction) is one statement that changes only its own columns under a condition
/// (<c>NOT banned</c>, the expected serial), so no write brings back what another undid.
/// </summary>
internal sealed class NodeStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    public Task CreateJoinTokenAsync(JoinToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentException.ThrowIfNullOrEmpty(token.Id, nameof(token));
        ArgumentNullException.ThrowIfNull(token.SecretHash, nameof(token));
        return RunAsync("create join token", async (c, ct) =>
        {
            var parameters = Rows.JoinTokenParameters(token);
            try
            {
                await ExecuteAsync(c, null, Insert("join_tokens", parameters), ct, parameters).ConfigureAwait(false);
            }
            catch (DbException ex) when (IsUniqueViolation(ex))
            {
                throw new DataStoreConflictException($"join token \"{token.Id}\" already exists", ex);
            }

            return true;
        }, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Returns the token whether or not it has expired: the caller checks <see cref="JoinToken.ExpiresAt"/>.</remarks>
    public Task<JoinToken?> TakeJoinTokenAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return RunAsync("take join token", async (c, ct) =>
        {
            var cmd = Command(c, null, $"DELETE FROM join_tokens WHERE id = @id RETURNING {Rows.JoinTokenColumns}", ("id", id));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? Rows.ReadJoinToken(reader) : null;
        }, cancellationToken);
    }

    public Task<int> PruneJoinTokensAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        RunAsync("prune join tokens", (c, ct) =>
            ExecuteAsync(c, null, "DELETE FROM join_tokens WHERE expires_at < @before", ct, ("before", Rows.ToUnixMs(before))),
            cancellationToken);

    /// <inheritdoc/>
    /// <remarks>A default <see cref="AttestedNode.CreatedAt"/> becomes the store's current time.</remarks>
    public Task CreateNodeAsync(AttestedNode node, CancellationToken cancellationToken)
    {
        ValidateNode(node);
        return RunAsync("create node", async (c, ct) =>
        {
            var parameters = Rows.NodeParameters(node, node.CreatedAt == default ? Time.GetUtcNow() : node.CreatedAt);
            try
            {
                await ExecuteAsync(c, null, Insert("nodes", parameters), ct, parameters).ConfigureAwait(false);
            }
            catch (DbException ex) when (IsUniqueViolation(ex))
            {
                throw new DataStoreConflictException($"node \"{node.SpiffeId}\" already exists", ex);
            }

            return true;
        }, cancellationToken);
    }

    public Task<AttestedNode?> GetNodeAsync(SpiffeId id, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(id, nameof(id));
        return RunAsync("get node", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {Rows.NodeColumns} FROM nodes WHERE spiffe_id = @id", ("id", id.ToString()));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? Rows.ReadNode(reader) : null;
        }, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Ordered by SPIFFE ID.</remarks>
    public Task<IReadOnlyList<AttestedNode>> ListNodesAsync(CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<AttestedNode>>("list nodes", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {Rows.NodeColumns} FROM nodes ORDER BY spiffe_id");
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var nodes = new List<AttestedNode>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                nodes.Add(Rows.ReadNode(reader));
            }

            return nodes;
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>Keeps the stored <see cref="AttestedNode.CreatedAt"/> and ban flag; <see cref="AttestedNode.Banned"/> and the pending SVID of the input are ignored.</remarks>
    public Task<NodeUpdateResult> ReattestNodeAsync(AttestedNode node, CancellationToken cancellationToken)
    {
        ValidateNode(node);
        return RunAsync("reattest node", async (c, ct) =>
        {
            var parameters = Rows.NodeParameters(node, default)
                .Where(p => p.Name is "spiffe_id" or "attestation_type" or "cert_serial" or "cert_not_after" or "selectors")
                .ToArray();
            var set = string.Join(", ", parameters.Where(p => p.Name != "spiffe_id").Select(p => p.Name + " = @" + p.Name));
            var updated = await ExecuteAsync(
                c,
                null,
                $"UPDATE nodes SET {set}, pending_cert_serial = NULL, pending_cert_not_after = NULL WHERE spiffe_id = @spiffe_id AND NOT banned",
                ct,
                parameters).ConfigureAwait(false);
            return updated > 0 ? NodeUpdateResult.Updated : await ClassifyNodeMissAsync(c, node.SpiffeId, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<NodeUpdateResult> RenewNodeSvidAsync(
        SpiffeId id, string currentSerial, string pendingSerial, DateTimeOffset pendingNotAfter, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(id, nameof(id));
        ArgumentException.ThrowIfNullOrEmpty(currentSerial);
        ArgumentException.ThrowIfNullOrEmpty(pendingSerial);
        return RunAsync("renew node svid", async (c, ct) =>
        {
            var updated = await ExecuteAsync(
                c,
                null,
                "UPDATE nodes SET pending_cert_serial = @pending, pending_cert_not_after = @pending_not_after " +
                "WHERE spiffe_id = @id AND cert_serial = @current AND NOT banned",
                ct,
                ("id", id.ToString()),
                ("current", currentSerial),
                ("pending", pendingSerial),
                ("pending_not_after", Rows.ToUnixMs(pendingNotAfter))).ConfigureAwait(false);
            return updated > 0 ? NodeUpdateResult.Updated : await ClassifyNodeMissAsync(c, id, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<bool> BanNodeAsync(SpiffeId id, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(id, nameof(id));
        return RunAsync("ban node", async (c, ct) =>
            await ExecuteAsync(c, null, "UPDATE nodes SET banned = TRUE WHERE spiffe_id = @id", ct, ("id", id.ToString())).ConfigureAwait(false) > 0,
            cancellationToken);
    }

    public Task<bool> PromoteNodeSvidAsync(SpiffeId id, string pendingSerial, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(id, nameof(id));
        ArgumentException.ThrowIfNullOrEmpty(pendingSerial);
        return RunAsync("promote node svid", async (c, ct) =>
            await ExecuteAsync(
                c,
                null,
                "UPDATE nodes SET cert_serial = pending_cert_serial, cert_not_after = pending_cert_not_after, " +
                "pending_cert_serial = NULL, pending_cert_not_after = NULL " +
                "WHERE spiffe_id = @id AND pending_cert_serial = @serial AND pending_cert_not_after IS NOT NULL",
                ct,
                ("id", id.ToString()),
                ("serial", pendingSerial)).ConfigureAwait(false) > 0,
            cancellationToken);
    }

    public Task<bool> DeleteNodeAsync(SpiffeId id, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(id, nameof(id));
        return RunAsync("delete node", async (c, ct) =>
            await ExecuteAsync(c, null, "DELETE FROM nodes WHERE spiffe_id = @id", ct, ("id", id.ToString())).ConfigureAwait(false) > 0,
            cancellationToken);
    }

    /// <summary>Why a conditional node update changed nothing: the node is gone, banned, or its SVID moved on.</summary>
    private static async Task<NodeUpdateResult> ClassifyNodeMissAsync(DbConnection c, SpiffeId id, CancellationToken ct)
    {
        var cmd = Command(c, null, "SELECT banned FROM nodes WHERE spiffe_id = @id", ("id", id.ToString()));
        await using var cmdScope = cmd.ConfigureAwait(false);
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) switch
        {
            null or DBNull => NodeUpdateResult.NotFound,
            var banned when Convert.ToBoolean(banned, CultureInfo.InvariantCulture) => NodeUpdateResult.Banned,
            _ => NodeUpdateResult.Conflict,
        };
    }

    private static void ValidateNode(AttestedNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        ThrowIfEmpty(node.SpiffeId, nameof(node));
        if ((node.PendingCertSerial is null) != (node.PendingCertNotAfter is null))
        {
            throw new ArgumentException($"node \"{node.SpiffeId}\" must have both or neither of a pending serial and not-after", nameof(node));
        }
    }
}
