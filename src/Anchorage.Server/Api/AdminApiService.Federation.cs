using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Grpc.Core;

namespace Anchorage.Server.Api;

/// <summary>Federation relationships (<c>kind: FederatedTrustDomain</c>) and their governance status.</summary>
public sealed partial class AdminApiService
{
    /// <summary>
    /// Creates or replaces a relationship (conditionally: a concurrent change of it makes this call
    /// fail with Aborted rather than be overwritten) after checking every field (all problems in one
    /// InvalidArgument, joined by "; "). A bootstrap bundle is stored as the trust domain's bundle only
    /// when none is stored yet: a fetched bundle is never rolled back to the bootstrap one.
    /// </summary>
    public override async Task<Protos.Admin.V1.FederationStatus> ApplyFederation(ApplyFederationRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var spec = request.Relationship ?? throw ApiException.InvalidArgument("relationship is required");
        var checkedSpec = FederationRelationshipValidator.Validate(spec, _ca.TrustDomain);
        var problems = checkedSpec.Problems.Select(p => p.Message).ToList();
        var relationship = checkedSpec.Relationship;
        var bootstrap = checkedSpec.Bootstrap;

        // Only when everything else holds, so the datastore is read for a well-formed request only.
        if (relationship is { Profile: BundleEndpointProfile.HttpsSpiffe } && bootstrap is null
            && await _store.GetBundleAsync(relationship.TrustDomain, ct).ConfigureAwait(false) is null)
        {
            problems.Add($"bootstrapBundle is required for profile https_spiffe: no bundle of \"{relationship.TrustDomain}\" is stored yet");
        }

        if (problems.Count > 0 || relationship is null)
        {
            throw ApiException.InvalidArgument(string.Join("; ", problems));
        }

        var trustDomain = relationship.TrustDomain;
        // Created only if absent, else updated from the revision read here: of two concurrent applies
        // one wins and the other is told to apply again, never silently overwritten.
        var existing = await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false);
        // An approval holds for the endpoint it was given for: a new URL, profile or endpoint ID needs a new one.
        var previous = existing?.Relationship;
        var approvalDropped = previous?.Approval is not null && FederationApprovalRules.EndpointChanged(previous, relationship);
        relationship = relationship with { Approval = approvalDropped ? null : previous?.Approval };
        try
        {
            _ = existing is { } stored
                ? await _store.UpdateRelationshipAsync(relationship with { Revision = stored.Relationship.Revision }, ct).ConfigureAwait(false)
                : await _store.CreateRelationshipAsync(relationship, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DataStoreConflictException or DataStoreStaleRevisionException or DataStoreNotFoundException)
        {
            throw ApiException.Aborted($"federation relationship \"{trustDomain}\" changed while it was being applied; apply it again");
        }

        if (bootstrap is not null && await _store.GetBundleAsync(trustDomain, ct).ConfigureAwait(false) is null)
        {
            await _store.SetBundleAsync(bootstrap, ct).ConfigureAwait(false);
            ApiLog.BundleChanged(_logger, "bootstrapped", trustDomain.Name);
            AuditBundle(context, "added", trustDomain, bootstrap.SequenceNumber, "bootstrap bundle");
        }

        if (approvalDropped)
        {
            AuditApproval("approval-dropped", trustDomain, null, "endpoint url, profile or endpoint SPIFFE ID changed; approve it again");
        }
        else if (previous is null && _approvalRules.RequireApproval)
        {
            AuditApproval(FederationApprovalRules.Pending, trustDomain, bootstrap?.SequenceNumber, "applied; waits for approval");
        }

        ApiLog.FederationChanged(_logger, "applied", trustDomain.Name);
        if (approvalDropped)
        {
            await AnnounceAsync(ct).ConfigureAwait(false);
        }

        return await StatusAsync(trustDomain, ct).ConfigureAwait(false);
    }

    /// <summary>Every relationship with its status, ordered by trust domain.</summary>
    public override async Task<ListFederationsResponse> ListFederations(ListFederationsRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var response = new ListFederationsResponse();
        foreach (var (relationship, state) in await _store.ListRelationshipsAsync(ct).ConfigureAwait(false))
        {
            response.Federations.Add(await StatusAsync(relationship, state, ct).ConfigureAwait(false));
        }

        return response;
    }

    /// <inheritdoc/>
    public override async Task<Protos.Admin.V1.FederationStatus> GetFederation(GetFederationRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var trustDomain = ProtoMapper.ParseTrustDomain(request.TrustDomain, "trustDomain");
        return await StatusAsync(trustDomain, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the relationship and the trust domain's bundle: agents stop handing it to workloads.</summary>
    public override async Task<DeleteFederationResponse> DeleteFederation(DeleteFederationRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var trustDomain = ProtoMapper.ParseTrustDomain(request.TrustDomain, "trustDomain");
        if (!await _store.DeleteRelationshipAsync(trustDomain, context.CancellationToken).ConfigureAwait(false))
        {
            throw FederationNotFound(trustDomain);
        }

        ApiLog.FederationChanged(_logger, "deleted", trustDomain.Name);
        AuditBundle(context, "removed", trustDomain, null, "federation relationship deleted");
        return new DeleteFederationResponse();
    }

    /// <summary>Fetches the trust domain's bundle now through the running refresher; Unavailable when none runs.</summary>
    public override async Task<Protos.Admin.V1.FederationStatus> RefreshFederation(RefreshFederationRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var trustDomain = ProtoMapper.ParseTrustDomain(request.TrustDomain, "trustDomain");
        if (await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false) is null)
        {
            throw FederationNotFound(trustDomain);
        }

        if (_refresher is null)
        {
            throw ApiException.Unavailable("no refresher is running");
        }

        try
        {
            await _refresher.RefreshNowAsync(trustDomain, ct).ConfigureAwait(false);
        }
        catch (KeyNotFoundException)
        {
            throw FederationNotFound(trustDomain);
        }

        return await StatusAsync(trustDomain, ct).ConfigureAwait(false);
    }

    private async Task<Protos.Admin.V1.FederationStatus> StatusAsync(TrustDomain trustDomain, CancellationToken ct)
    {
        var found = await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false) ?? throw FederationNotFound(trustDomain);
        return await StatusAsync(found.Relationship, found.State, ct).ConfigureAwait(false);
    }

    private async Task<Protos.Admin.V1.FederationStatus> StatusAsync(FederationRelationship relationship, FederationRefreshState state, CancellationToken ct)
    {
        var bundle = await _store.GetBundleAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        var entries = await CountFederatingEntriesAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        var usage = await _store.ListUsageAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        var fetches = await _store.ListFetchesAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        var status = FederationStatusView.Compute(relationship, state, bundle?.Bundle, entries, _time.GetUtcNow(), _approvalRules, _refreshFloor, usage, _unusedAfter, fetches);
        var held = await _store.ListHeldBundlesAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        return ProtoMapper.ToProto(status with { Held = held });
    }

    private async Task<long> CountFederatingEntriesAsync(TrustDomain trustDomain, CancellationToken ct)
    {
        long count = 0;
        string? token = null;
        do
        {
            var page = await _store.ListEntriesAsync(
                new EntryQuery { FederatesWith = trustDomain, PageSize = EntryService.MaxPageSize, PageToken = token }, ct).ConfigureAwait(false);
            count += page.Entries.Count;
            token = page.NextPageToken;
        }
        while (token is not null);
        return count;
    }

    private static ApiException FederationNotFound(TrustDomain trustDomain) =>
        ApiException.NotFound($"no federation relationship with trust domain \"{trustDomain}\"");
}
