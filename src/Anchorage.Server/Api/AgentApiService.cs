using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api;

/// <summary>
/// The agent API (<c>anchorage.agent.v1.AgentApi</c>) on the mutual-TLS listener. Agents attest
/// with a join token (the only call without a client certificate; the listener lets such clients
/// through, see <c>SpiffeServerTlsProvider(requireClientCertificate: false)</c>), then every other
/// call is made with the agent SVID, which is verified again here and must be the node's current one.
/// </summary>
/// <remarks>
/// <para>Signing (attestation, renewal, X.509 batches, JWT-SVIDs) is bounded by
/// <see cref="ApiOptions.MaxConcurrentSigning"/>; beyond it calls are refused with
/// <c>Unavailable</c>, message <c>server is busy signing; retry after N ms</c> and trailer
/// <c>retry-after-ms: N</c>.</para>
/// <para>Entries an agent may hold come from <see cref="AuthorizedEntries"/> over a snapshot of every
/// entry that follows the store's change log. An entry the agent may not hold is answered like one
/// that does not exist (<c>entry not found or not authorized</c>), so agents cannot probe for entries.</para>
/// </remarks>
public sealed partial class AgentApiService : AgentApi.AgentApiBase
{
    /// <summary>The attestation type recorded for join-token agents.</summary>
    public const string JoinTokenAttestationType = "join_token";

    /// <summary>The answer for an entry the agent may not hold, whether or not it exists.</summary>
    public const string EntryNotAuthorizedMessage = "entry not found or not authorized";

    private readonly ICertificateAuthority _ca;
    private readonly IDataStore _store;
    private readonly JoinTokenService _joinTokens;
    private readonly NodeService _nodes;
    private readonly ApiOptions _options;
    private readonly SigningAdmission _admission;
    private readonly EntrySnapshotCache _entries;
    private readonly AgentAuthenticator _authenticator;
    private readonly BundleChangeFeed _bundleFeed;
    private readonly WithheldBundles? _withheld;
    private readonly ILogger _logger;

    internal AgentApiService(
        ICertificateAuthority ca,
        IDataStore store,
        JoinTokenService joinTokens,
        NodeService nodes,
        ApiOptions options,
        SigningAdmission admission,
        EntrySnapshotCache entries,
        AgentAuthenticator authenticator,
        BundleChangeFeed bundleFeed,
        ILoggerFactory loggerFactory,
        WithheldBundles? withheld = null)
    {
        _bundleFeed = bundleFeed;
        _withheld = withheld;
        _ca = ca;
        _store = store;
        _joinTokens = joinTokens;
        _nodes = nodes;
        _options = options;
        _admission = admission;
        _entries = entries;
        _authenticator = authenticator;
        _logger = loggerFactory.CreateLogger(ApiLog.Category);
    }

    /// <inheritdoc/>
    public override async Task<AttestJoinTokenResponse> AttestJoinToken(AttestJoinTokenRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        if (request.Token.Length == 0)
        {
            throw ApiException.InvalidArgument("token is required");
        }

        // A bad CSR or a busy server must not burn the one-time token: check both before redeeming.
        // The slot comes first: the caller is not authenticated yet, so even parsing its CSR is
        // work that the admission limit must bound.
        using var lease = _admission.Enter();
        CsrParser.VerifyAndGetPublicKey(request.Csr.Span);
        var redeemed = await _joinTokens.RedeemAsync(request.Token, ct).ConfigureAwait(false);
        var svid = await CaCalls.RunAsync(() => _ca.SignX509SvidAsync(redeemed.AgentId, request.Csr.Memory, [], null, ct)).ConfigureAwait(false);
        await _nodes.RecordAttestationAsync(redeemed.AgentId, JoinTokenAttestationType, svid.SerialNumber, svid.NotAfter, redeemed.Selectors, ct)
            .ConfigureAwait(false);
        var bundle = await _ca.GetBundleAsync(ct).ConfigureAwait(false);
        ApiLog.AgentAttested(_logger, redeemed.AgentId, svid.SerialNumber, svid.NotAfter);
        return new AttestJoinTokenResponse { Svid = ProtoMapper.ToProto(svid), Bundle = ProtoMapper.ToProto(bundle) };
    }

    /// <inheritdoc/>
    public override async Task<RenewAgentResponse> RenewAgent(RenewAgentRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var (node, serial) = await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        using var lease = _admission.Enter();
        var svid = await CaCalls.RunAsync(() => _ca.SignX509SvidAsync(node.SpiffeId, request.Csr.Memory, [], null, ct)).ConfigureAwait(false);
        await _nodes.RenewAsync(node.SpiffeId, serial, svid.SerialNumber, svid.NotAfter, ct).ConfigureAwait(false);
        ApiLog.AgentRenewed(_logger, node.SpiffeId, svid.SerialNumber, svid.NotAfter);
        return new RenewAgentResponse { Svid = ProtoMapper.ToProto(svid) };
    }

    /// <summary>
    /// Streams the entries the agent may hold that changed after <c>since_revision</c>, at most
    /// <c>page_size</c> (default <see cref="ApiOptions.SyncPageSize"/>, at most
    /// <see cref="ApiOptions.MaxSyncPageSize"/>) upserted entries and as many removed ids per message.
    /// Every message carries the snapshot's revision; the last has <c>more</c> false.
    /// </summary>
    /// <remarks>
    /// A full resync (every entry, <c>full_resync</c> set) is sent when <c>since_revision</c> is 0,
    /// is ahead of the server (a different database), or predates a change of any node-alias entry
    /// (the agent's aliases, and so its entries, may differ). Otherwise upserted entries are those the
    /// agent may hold now with a newer revision, and removed ids are the entries changed or deleted
    /// since that it may not hold now (ids it never held included: they are opaque and the agent
    /// ignores them).
    /// </remarks>
    public override async Task SyncEntries(SyncEntriesRequest request, IServerStreamWriter<SyncEntriesResponse> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var (node, _) = await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        var pageSize = request.PageSize switch
        {
            0 => _options.SyncPageSize,
            < 0 or > ApiOptions.MaxSyncPageSize => throw ApiException.InvalidArgument($"pageSize must be between 0 and {ApiOptions.MaxSyncPageSize}"),
            _ => request.PageSize,
        };
        var since = request.SinceRevision;
        if (since < 0)
        {
            throw ApiException.InvalidArgument("sinceRevision must not be negative");
        }

        var snapshot = await _entries.GetAsync(ct).ConfigureAwait(false);
        var set = snapshot.Index.For(node);
        var full = since == 0 || since > snapshot.Revision || since < snapshot.LastAliasChange;
        IReadOnlyList<RegistrationEntry> upserted;
        IReadOnlyList<string> removed;
        if (full)
        {
            upserted = set.Entries;
            removed = [];
        }
        else
        {
            upserted = set.Entries.Where(e => e.RevisionNumber > since).ToList();
            removed = await RemovedSinceAsync(set, since, snapshot.Revision, ct).ConfigureAwait(false);
        }

        var offset = 0;
        do
        {
            var page = new SyncEntriesResponse { Revision = snapshot.Revision, FullResync = full };
            for (var i = offset; i < offset + pageSize && i < upserted.Count; i++)
            {
                page.Upserted.Add(ProtoMapper.ToProto(upserted[i]));
            }

            for (var i = offset; i < offset + pageSize && i < removed.Count; i++)
            {
                page.RemovedIds.Add(removed[i]);
            }

            offset += pageSize;
            page.More = offset < upserted.Count || offset < removed.Count;
            await responseStream.WriteAsync(page, ct).ConfigureAwait(false);
        }
        while (offset < upserted.Count || offset < removed.Count);
    }

    /// <summary>
    /// Signs one X.509-SVID per parameter for the entries the agent may hold, each with the entry's
    /// SPIFFE ID, DNS names and TTL. Each result succeeds or fails alone; the call itself fails only
    /// when the agent is not authenticated, the batch is too large, or the signer is busy.
    /// </summary>
    public override async Task<BatchNewX509SvidResponse> BatchNewX509Svid(BatchNewX509SvidRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var (node, _) = await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        if (request.Params.Count > _options.MaxX509SvidBatch)
        {
            throw ApiException.InvalidArgument($"at most {_options.MaxX509SvidBatch} svids may be asked for in one call");
        }

        var response = new BatchNewX509SvidResponse();
        if (request.Params.Count == 0)
        {
            return response;
        }

        // One admission slot per signature, not one per call: a batch cannot buy many signatures with
        // one slot. While none was admitted yet a busy signer fails the whole call (with its retry hint);
        // after that, an item that finds every slot taken fails alone with the same status, and the agent asks again.
        var set = (await _entries.GetAsync(ct).ConfigureAwait(false)).Index.For(node);
        var admitted = 0;
        foreach (var param in request.Params)
        {
            var result = new BatchNewX509SvidResult { EntryId = param.EntryId };
            try
            {
                var entry = FindAuthorized(set, param.EntryId);
                using var lease = _admission.Enter();
                admitted++;
                var svid = await CaCalls.RunAsync(() => _ca.SignX509SvidAsync(entry.SpiffeId, param.Csr.Memory, entry.DnsNames, entry.X509SvidTtl, ct))
                    .ConfigureAwait(false);
                result.Svid = ProtoMapper.ToProto(svid);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !(admitted == 0 && ex is ApiException { RetryAfterMilliseconds: not null }))
            {
                var status = GrpcStatusMapper.ToStatus(ex, _logger, context.Method);
                result.ErrorCode = (int)status.StatusCode;
                result.Error = status.Detail;
            }

            response.Results.Add(result);
        }

        return response;
    }

    /// <summary>Mints a JWT-SVID for an entry the agent may hold, with the entry's JWT TTL.</summary>
    public override async Task<NewJwtSvidResponse> NewJwtSvid(NewJwtSvidRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var (node, _) = await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        if (request.Audience.Count == 0 || request.Audience.Any(string.IsNullOrEmpty))
        {
            throw ApiException.InvalidArgument("audience must hold at least one non-empty value");
        }

        var set = (await _entries.GetAsync(ct).ConfigureAwait(false)).Index.For(node);
        var entry = FindAuthorized(set, request.EntryId);
        using var lease = _admission.Enter();
        var jwt = await CaCalls.RunAsync(() => _ca.MintJwtSvidAsync(entry.SpiffeId, [.. request.Audience], entry.JwtSvidTtl, ct)).ConfigureAwait(false);
        return new NewJwtSvidResponse { Token = jwt.Token, ExpiresAt = jwt.Expiry.ToUnixTimeSeconds() };
    }

    /// <summary>
    /// The trust domain's bundle, every federated bundle agents may receive (not those of pending or
    /// suspended relationships: <see cref="Federation.FederationApprovalRules"/>), and the tainted authorities.
    /// </summary>
    public override async Task<GetBundlesResponse> GetBundles(GetBundlesRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        var own = await _ca.GetBundleAsync(ct).ConfigureAwait(false);
        var response = new GetBundlesResponse { Own = ProtoMapper.ToProto(own) };
        var withheld = _withheld is null ? [] : await _withheld.ListAsync(ct).ConfigureAwait(false);
        foreach (var stored in await _store.ListBundlesAsync(ct).ConfigureAwait(false))
        {
            if (stored.Bundle.TrustDomain != _ca.TrustDomain && !withheld.Contains(stored.Bundle.TrustDomain))
            {
                response.Federated.Add(ProtoMapper.ToProto(stored));
            }
        }

        foreach (var tainted in await _ca.ListTaintedAsync(ct).ConfigureAwait(false))
        {
            response.Tainted.Add(new TaintedAuthority { Kind = ProtoMapper.KindName(tainted.Kind), Id = tainted.Id });
        }

        return response;
    }

    /// <summary>
    /// Tells the agent when bundles or tainted authorities change: a message at once, then one per
    /// change, until the agent hangs up. The agent then pulls with <c>GetBundles</c>.
    /// </summary>
    public override async Task WatchBundles(WatchBundlesRequest request, IServerStreamWriter<WatchBundlesResponse> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        try
        {
            await foreach (var version in _bundleFeed.WatchAsync(ct).ConfigureAwait(false))
            {
                await responseStream.WriteAsync(new WatchBundlesResponse { Version = version }, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The agent hung up or the server is stopping.
        }
    }

    /// <summary>
    /// The trust domain's communication policy: only its version when the agent already holds it
    /// (<c>known_version</c>) or none was applied (version 0); otherwise the policy with its version.
    /// </summary>
    public override async Task<GetPolicyResponse> GetPolicy(GetPolicyRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        if (request.KnownVersion < 0)
        {
            throw ApiException.InvalidArgument("knownVersion must not be negative");
        }

        // The version alone first: most syncs find the policy unchanged and move no text.
        var version = await _store.GetPolicyVersionAsync(ct).ConfigureAwait(false);
        if (version == 0 || version == request.KnownVersion)
        {
            return new GetPolicyResponse { Version = version };
        }

        var stored = await _store.GetPolicyAsync(ct).ConfigureAwait(false);
        return stored is null
            ? new GetPolicyResponse()
            : new GetPolicyResponse { Version = stored.Version, Policy = ProtoMapper.ToProto(stored) };
    }

    private static RegistrationEntry FindAuthorized(AuthorizedEntrySet set, string entryId)
    {
        if (entryId.Length == 0)
        {
            throw ApiException.InvalidArgument("entryId is required");
        }

        // Entries are ordered by id (ordinal).
        var entries = set.Entries;
        int lo = 0, hi = entries.Length - 1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var order = string.CompareOrdinal(entries[mid].Id, entryId);
            if (order == 0)
            {
                return entries[mid];
            }

            if (order < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        throw ApiException.NotFound(EntryNotAuthorizedMessage);
    }

    private async Task<IReadOnlyList<string>> RemovedSinceAsync(AuthorizedEntrySet set, long since, long upTo, CancellationToken ct)
    {
        var removed = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var revision = since;
        while (revision < upTo)
        {
            var changes = await _store.ListEntryChangesAsync(revision, ApiOptions.MaxSyncPageSize, ct).ConfigureAwait(false);
            foreach (var id in changes.Upserted.Where(e => e.RevisionNumber <= upTo).Select(e => e.Id).Concat(changes.DeletedIds))
            {
                if (!set.Contains(id) && seen.Add(id))
                {
                    removed.Add(id);
                }
            }

            if (!changes.HasMore || changes.Revision <= revision)
            {
                break;
            }

            revision = changes.Revision;
        }

        return removed;
    }
}
