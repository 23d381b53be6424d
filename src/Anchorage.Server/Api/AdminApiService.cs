using System.Globalization;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Ids;
using Anchorage.Foundation.Selectors;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Hosting;
using Anchorage.Server.Hosting.Internal;
using Anchorage.Server.Registration;
using Anchorage.Server.WebConsole;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Api;

/// <summary>
/// The admin API (<c>anchorage.admin.v1.AdminApi</c>) on the admin socket: entries, join tokens,
/// agents, bundles, authorities and SVID minting. Callers are admins already (the host checks their
/// uid before routing), so answers may name what exists.
/// </summary>
/// <remarks>
/// The local trust domain's bundle is the CA's: <c>GetBundle</c> returns it, <c>ListBundles</c>
/// lists only federated ones, and <c>SetBundle</c>/<c>DeleteBundle</c> refuse it. Durations are
/// whole seconds, 0 meaning the default.
/// </remarks>
public sealed partial class AdminApiService : AdminApi.AdminApiBase
{
    /// <summary>Entries per <c>ListEntries</c> page when the caller asks for 0.</summary>
    public const int DefaultListPageSize = 1000;

    private readonly EntryService _entries;
    private readonly JoinTokenService _joinTokens;
    private readonly NodeService _nodes;
    private readonly IDataStore _store;
    private readonly ICertificateAuthority _ca;
    private readonly SigningAdmission _admission;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IFederationRefresher? _refresher;
    private readonly BundleEndpointOptions? _bundleEndpoint;
    private readonly BoundListeners? _bound;
    private readonly IAuditSink _audit;
    private readonly BundleChangeFeed? _changeFeed;
    private readonly FederationApprovalRules _approvalRules;
    private readonly TimeSpan _refreshFloor;
    private readonly TimeSpan _unusedAfter;
    private readonly ConsoleSessions? _console;

    internal AdminApiService(
        EntryService entries,
        JoinTokenService joinTokens,
        NodeService nodes,
        IDataStore store,
        ICertificateAuthority ca,
        SigningAdmission admission,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null,
        IFederationRefresher? refresher = null,
        BundleEndpointOptions? bundleEndpoint = null,
        BoundListeners? bound = null,
        IAuditSink? audit = null,
        BundleChangeFeed? changeFeed = null,
        FederationApprovalRules? approvalRules = null,
        TimeSpan? refreshFloor = null,
        TimeSpan? unusedAfter = null,
        ConsoleSessions? console = null)
    {
        _unusedAfter = unusedAfter ?? GovernanceOptions.DefaultUnusedAfter;
        _console = console;
        _refreshFloor = refreshFloor ?? new FederationOptions().RefreshFloor;
        _approvalRules = approvalRules ?? FederationApprovalRules.Default;
        _bound = bound;
        _audit = audit ?? NullAuditSink.Instance;
        _changeFeed = changeFeed;
        _time = timeProvider ?? TimeProvider.System;
        _refresher = refresher;
        _bundleEndpoint = bundleEndpoint;
        _entries = entries;
        _joinTokens = joinTokens;
        _nodes = nodes;
        _store = store;
        _ca = ca;
        _admission = admission;
        _logger = loggerFactory.CreateLogger(ApiLog.Category);
    }

    // ---- entries ----

    /// <summary>Creates each entry on its own: an invalid or duplicate entry fails alone (InvalidArgument, AlreadyExists).</summary>
    public override async Task<CreateEntriesResponse> CreateEntries(CreateEntriesRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var response = new CreateEntriesResponse();
        foreach (var proto in request.Entries)
        {
            var result = new EntryResult();
            try
            {
                var stored = await _entries.CreateAsync(ProtoMapper.ToModel(proto), context.CancellationToken).ConfigureAwait(false);
                result.Entry = ProtoMapper.ToProto(stored);
            }
            catch (Exception ex) when (GrpcStatusMapper.IsItemError(ex))
            {
                var status = GrpcStatusMapper.ToStatus(ex, _logger, context.Method);
                result.Entry = proto;
                result.ErrorCode = (int)status.StatusCode;
                result.Error = status.Detail;
            }

            response.Results.Add(result);
        }

        return response;
    }

    /// <inheritdoc/>
    public override async Task<Common.Entry> GetEntry(GetEntryRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        RequireId(request.Id);
        var entry = await _entries.GetAsync(request.Id, context.CancellationToken).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"entry \"{request.Id}\" not found");
        return ProtoMapper.ToProto(entry);
    }

    /// <inheritdoc/>
    public override async Task<Common.Entry> UpdateEntry(UpdateEntryRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        if (request.Entry is null)
        {
            throw ApiException.InvalidArgument("entry is required");
        }

        var stored = await _entries.UpdateAsync(ProtoMapper.ToModel(request.Entry), context.CancellationToken).ConfigureAwait(false);
        return ProtoMapper.ToProto(stored);
    }

    /// <inheritdoc/>
    public override async Task<DeleteEntryResponse> DeleteEntry(DeleteEntryRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        RequireId(request.Id);
        if (!await _entries.DeleteAsync(request.Id, context.CancellationToken).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"entry \"{request.Id}\" not found");
        }

        return new DeleteEntryResponse();
    }

    /// <summary>One page of entries matching every filter given; <c>page_size</c> 0 means <see cref="DefaultListPageSize"/>.</summary>
    public override async Task<ListEntriesResponse> ListEntries(ListEntriesRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var query = new EntryQuery
        {
            ParentIds = request.ParentId.Length == 0 ? null : [ProtoMapper.ParseId(request.ParentId, "parentId")],
            SpiffeId = request.SpiffeId.Length == 0 ? default : ProtoMapper.ParseId(request.SpiffeId, "spiffeId"),
            Selector = request.Selector is { } s ? new Selector(s.Type, s.Value) : null,
            FederatesWith = request.FederatesWith.Length == 0 ? default : ProtoMapper.ParseTrustDomain(request.FederatesWith, "federatesWith"),
            PageSize = request.PageSize == 0 ? DefaultListPageSize : request.PageSize,
            PageToken = request.PageToken.Length == 0 ? null : request.PageToken,
        };
        var page = await _entries.ListAsync(query, context.CancellationToken).ConfigureAwait(false);
        var response = new ListEntriesResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        response.Entries.AddRange(page.Entries.Select(ProtoMapper.ToProto));
        return response;
    }

    /// <inheritdoc/>
    public override async Task<CountEntriesResponse> CountEntries(CountEntriesRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new CountEntriesResponse { Count = await _entries.CountAsync(context.CancellationToken).ConfigureAwait(false) };
    }

    // ---- agents ----

    /// <summary>A one-time join token (shown once), optionally making <c>spiffe_id</c> an alias of the node that redeems it.</summary>
    public override async Task<GenerateJoinTokenResponse> GenerateJoinToken(GenerateJoinTokenRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var alias = request.SpiffeId.Length == 0 ? default : ProtoMapper.ParseId(request.SpiffeId, "spiffeId");
        var grant = await _joinTokens.GenerateAsync(ProtoMapper.Ttl(request.TtlSeconds, "ttlSeconds"), alias, context.CancellationToken).ConfigureAwait(false);
        return new GenerateJoinTokenResponse
        {
            Token = grant.Token,
            Id = grant.Id,
            ExpiresAt = grant.ExpiresAt.ToUnixTimeSeconds(),
            AgentSpiffeId = grant.AgentId.ToString(),
        };
    }

    /// <inheritdoc/>
    public override async Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = new ListAgentsResponse();
        response.Agents.AddRange((await _nodes.ListAsync(context.CancellationToken).ConfigureAwait(false)).Select(ProtoMapper.ToProto));
        return response;
    }

    /// <inheritdoc/>
    public override async Task<AgentInfo> GetAgent(GetAgentRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var id = ProtoMapper.ParseId(request.SpiffeId, "spiffeId");
        var node = await _nodes.GetAsync(id, context.CancellationToken).ConfigureAwait(false) ?? throw AgentNotFound(id);
        return ProtoMapper.ToProto(node);
    }

    /// <summary>Deletes the agent's record: its SVID stops working and it must attest again (also lifts a ban).</summary>
    public override async Task<EvictAgentResponse> EvictAgent(EvictAgentRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var id = ProtoMapper.ParseId(request.SpiffeId, "spiffeId");
        if (!await _nodes.EvictAsync(id, context.CancellationToken).ConfigureAwait(false))
        {
            throw AgentNotFound(id);
        }

        return new EvictAgentResponse();
    }

    /// <summary>Bans the agent: it can neither call nor renew nor attest again until evicted.</summary>
    public override async Task<AgentInfo> BanAgent(BanAgentRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var id = ProtoMapper.ParseId(request.SpiffeId, "spiffeId");
        var ct = context.CancellationToken;
        if (!await _nodes.BanAsync(id, ct).ConfigureAwait(false))
        {
            throw AgentNotFound(id);
        }

        return ProtoMapper.ToProto(await _nodes.GetAsync(id, ct).ConfigureAwait(false) ?? throw AgentNotFound(id));
    }

    // ---- bundles ----

    /// <summary>The local trust domain's bundle as published.</summary>
    public override async Task<Common.Bundle> GetBundle(GetBundleRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ProtoMapper.ToProto(await _ca.GetBundleAsync(context.CancellationToken).ConfigureAwait(false));
    }

    /// <summary>The federated bundles (every stored bundle but the local trust domain's).</summary>
    public override async Task<ListBundlesResponse> ListBundles(ListBundlesRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = new ListBundlesResponse();
        foreach (var stored in await _store.ListBundlesAsync(context.CancellationToken).ConfigureAwait(false))
        {
            if (stored.Bundle.TrustDomain != _ca.TrustDomain)
            {
                response.Bundles.Add(ProtoMapper.ToProto(stored));
            }
        }

        return response;
    }

    /// <summary>Stores a federated bundle from SPIFFE bundle JSON or PEM certificates, as given.</summary>
    public override async Task<Common.Bundle> SetBundle(SetBundleRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var trustDomain = FederatedTrustDomain(request.TrustDomain, "set");
        if (request.Content.IsEmpty)
        {
            throw ApiException.InvalidArgument("content is required: a SPIFFE bundle (JSON) or PEM certificates");
        }

        var bundle = SpiffeBundle.Load(trustDomain, request.Content.Span);
        var stored = await _store.SetBundleAsync(bundle, context.CancellationToken).ConfigureAwait(false);
        ApiLog.BundleChanged(_logger, "set", trustDomain.Name);
        AuditBundle(context, "set", trustDomain, stored.Bundle.SequenceNumber, null);
        return ProtoMapper.ToProto(stored);
    }

    /// <inheritdoc/>
    public override async Task<DeleteBundleResponse> DeleteBundle(DeleteBundleRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var trustDomain = FederatedTrustDomain(request.TrustDomain, "delete");
        if (!await _store.DeleteBundleAsync(trustDomain, context.CancellationToken).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"no bundle for trust domain \"{trustDomain}\"");
        }

        ApiLog.BundleChanged(_logger, "deleted", trustDomain.Name);
        AuditBundle(context, "removed", trustDomain, null, null);
        return new DeleteBundleResponse();
    }

    // ---- authorities ----

    /// <summary>Authorities of one kind (<c>x509</c>, <c>jwt</c>), or of both when <c>kind</c> is empty.</summary>
    public override async Task<ListAuthoritiesResponse> ListAuthorities(ListAuthoritiesRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        AuthorityKind[] kinds = request.Kind.Length == 0 ? [AuthorityKind.X509, AuthorityKind.Jwt] : [ProtoMapper.ParseKind(request.Kind)];
        var response = new ListAuthoritiesResponse();
        foreach (var kind in kinds)
        {
            var authorities = await CaCalls.RunAsync(() => _ca.ListAuthoritiesAsync(kind, context.CancellationToken)).ConfigureAwait(false);
            response.Authorities.AddRange(authorities.Select(ProtoMapper.ToProto));
        }

        if (request.IncludeRevoked)
        {
            var revoked = await _store.ListRevokedAuthoritiesAsync(context.CancellationToken).ConfigureAwait(false);
            response.Authorities.AddRange(revoked.Where(r => kinds.Contains(r.Kind)).Select(ProtoMapper.ToProto));
        }

        return response;
    }

    /// <inheritdoc/>
    public override Task<Authority> PrepareAuthority(AuthorityRequest request, ServerCallContext context) =>
        Rotate(request, context, (kind, _, ct) => _ca.PrepareAsync(kind, ct));

    /// <inheritdoc/>
    public override Task<Authority> ActivateAuthority(AuthorityRequest request, ServerCallContext context) =>
        Rotate(request, context, _ca.ActivateAsync);

    /// <inheritdoc/>
    public override Task<Authority> TaintAuthority(AuthorityRequest request, ServerCallContext context) =>
        Rotate(request, context, _ca.TaintAsync);

    /// <inheritdoc/>
    public override Task<Authority> RevokeAuthority(AuthorityRequest request, ServerCallContext context) =>
        Rotate(request, context, _ca.RevokeAsync);

    // ---- minting ----

    /// <summary>Signs an X.509-SVID for any ID of the trust domain from the caller's CSR; returns it with the bundle.</summary>
    public override async Task<MintX509SvidResponse> MintX509Svid(MintX509SvidRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var id = ProtoMapper.ParseId(request.SpiffeId, "spiffeId");
        RefuseReserved(id);
        var ttl = ProtoMapper.Ttl(request.TtlSeconds, "ttlSeconds");
        using var lease = _admission.Enter();
        var svid = await CaCalls.RunAsync(() => _ca.SignX509SvidAsync(id, request.Csr.Memory, [.. request.DnsNames], ttl, ct)).ConfigureAwait(false);
        var bundle = await _ca.GetBundleAsync(ct).ConfigureAwait(false);
        ApiLog.AdminMint(_logger, "x509", id);
        return new MintX509SvidResponse { Svid = ProtoMapper.ToProto(svid), Bundle = ProtoMapper.ToProto(bundle) };
    }

    /// <summary>Mints a JWT-SVID for any ID of the trust domain.</summary>
    public override async Task<MintJwtSvidResponse> MintJwtSvid(MintJwtSvidRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var id = ProtoMapper.ParseId(request.SpiffeId, "spiffeId");
        if (!id.MemberOf(_ca.TrustDomain))
        {
            throw ApiException.InvalidArgument($"spiffeId: \"{id}\" is not in trust domain \"{_ca.TrustDomain}\"");
        }

        RefuseReserved(id);
        if (request.Audience.Count == 0 || request.Audience.Any(string.IsNullOrEmpty))
        {
            throw ApiException.InvalidArgument("audience must hold at least one non-empty value");
        }

        var ttl = ProtoMapper.Ttl(request.TtlSeconds, "ttlSeconds");
        using var lease = _admission.Enter();
        var jwt = await CaCalls.RunAsync(() => _ca.MintJwtSvidAsync(id, [.. request.Audience], ttl, context.CancellationToken)).ConfigureAwait(false);
        ApiLog.AdminMint(_logger, "jwt", id);
        return new MintJwtSvidResponse { Token = jwt.Token, ExpiresAt = jwt.Expiry.ToUnixTimeSeconds() };
    }

    private static async Task<Authority> Rotate(
        AuthorityRequest request, ServerCallContext context, Func<AuthorityKind, string?, CancellationToken, Task<AuthorityRecord>> verb)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var kind = ProtoMapper.ParseKind(request.Kind);
        var id = request.Id.Length == 0 ? null : request.Id;
        var record = await CaCalls.RunAsync(() => verb(kind, id, context.CancellationToken)).ConfigureAwait(false);
        return ProtoMapper.ToProto(record);
    }

    // A change of a federated bundle made through the admin API, with the admin's uid (the admin socket's peer).
    private void AuditBundle(ServerCallContext context, string change, TrustDomain trustDomain, ulong? sequence, string? why)
    {
        var admin = AdminPeer(context) is { } peer
            ? string.Create(CultureInfo.InvariantCulture, $"by admin uid {peer.UserId}")
            : "by the admin api";
        _audit.Write(new AuditRecord
        {
            Time = _time.GetUtcNow(),
            Kind = AuditKinds.Bundle,
            Decision = change,
            TrustDomain = trustDomain.Name,
            Sequence = FederationRefresher.AuditSequence(sequence),
            Detail = why is null ? admin : why + ", " + admin,
        });
    }

    // Calls made in-process (tests) have no HTTP context.
    private static PeerCredentials? AdminPeer(ServerCallContext context)
    {
        try
        {
            return context.GetPeerCredentials();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private TrustDomain FederatedTrustDomain(string text, string verb)
    {
        var trustDomain = ProtoMapper.ParseTrustDomain(text, "trustDomain");
        if (trustDomain == _ca.TrustDomain)
        {
            throw ApiException.InvalidArgument(
                $"cannot {verb} the bundle of the local trust domain \"{trustDomain}\"; it is managed by the ca");
        }

        return trustDomain;
    }

    private static void RequireId(string id)
    {
        if (id.Length == 0)
        {
            throw ApiException.InvalidArgument("id is required");
        }
    }

    private static ApiException AgentNotFound(SpiffeId id) => ApiException.NotFound($"agent \"{id}\" not found");

    /// <summary>
    /// The server's own ID and its agents' IDs (every path under <see cref="AnchorageIds.ReservedPathPrefix"/>)
    /// are never minted: an SVID for one would let its holder act as the server or as an attested agent.
    /// </summary>
    private static void RefuseReserved(SpiffeId id)
    {
        if (AnchorageIds.IsReserved(id))
        {
            throw ApiException.InvalidArgument(
                $"spiffeId: \"{id}\": paths under {AnchorageIds.ReservedPathPrefix} are reserved for the server and its agents and cannot be minted");
        }
    }
}
