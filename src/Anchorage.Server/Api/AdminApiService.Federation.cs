using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Bundles;
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
        var problems = new List<string>();
        var trustDomain = default(TrustDomain);
        if (spec.TrustDomain.Length == 0)
        {
            problems.Add("trustDomain is required");
        }
        else if (!TrustDomain.TryParse(spec.TrustDomain, out trustDomain, out var tdError))
        {
            problems.Add($"trustDomain \"{spec.TrustDomain}\": {tdError}");
        }
        else if (trustDomain == _ca.TrustDomain)
        {
            problems.Add($"trustDomain \"{trustDomain}\" is the server's own trust domain");
        }

        if (string.IsNullOrWhiteSpace(spec.Owner))
        {
            problems.Add("owner is required");
        }

        var url = FederationUrl(spec.Url, problems);
        BundleEndpointProfile? profile = null;
        if (spec.Profile.Length == 0)
        {
            problems.Add("profile is required (https_web or https_spiffe)");
        }
        else if (BundleEndpointProfiles.TryParse(spec.Profile, out var parsed))
        {
            profile = parsed;
        }
        else
        {
            problems.Add($"profile \"{spec.Profile}\" is not https_web or https_spiffe");
        }

        SpiffeId? endpointId = null;
        SpiffeBundle? bootstrap = null;
        if (profile == BundleEndpointProfile.HttpsSpiffe)
        {
            if (spec.EndpointSpiffeId.Length == 0)
            {
                problems.Add("endpointSpiffeId is required for profile https_spiffe");
            }
            else if (!SpiffeId.TryParse(spec.EndpointSpiffeId, out var id, out var idError))
            {
                problems.Add($"endpointSpiffeId \"{spec.EndpointSpiffeId}\": {idError}");
            }
            else if (!trustDomain.IsEmpty && !id.MemberOf(trustDomain))
            {
                problems.Add($"endpointSpiffeId \"{id}\" is not in trust domain \"{trustDomain}\"");
            }
            else
            {
                endpointId = id;
            }

            if (spec.CaBundle.Length > 0)
            {
                problems.Add("caBundle is only for profile https_web");
            }

            if (spec.BootstrapBundle.Length > 0 && !trustDomain.IsEmpty)
            {
                try
                {
                    bootstrap = SpiffeBundle.Load(trustDomain, Encoding.UTF8.GetBytes(spec.BootstrapBundle));
                }
                catch (FormatException ex)
                {
                    problems.Add("bootstrapBundle: " + ex.Message);
                }
            }
        }
        else if (profile == BundleEndpointProfile.HttpsWeb)
        {
            if (spec.EndpointSpiffeId.Length > 0)
            {
                problems.Add("endpointSpiffeId is only for profile https_spiffe");
            }

            if (spec.BootstrapBundle.Length > 0)
            {
                problems.Add("bootstrapBundle is only for profile https_spiffe");
            }

            if (spec.CaBundle.Length > 0)
            {
                CheckCaBundle(spec.CaBundle, problems);
            }
        }

        if (spec.MaxStalenessSeconds <= 0)
        {
            problems.Add("maxStalenessSeconds must be positive");
        }
        else if (spec.MaxStalenessSeconds > MaxStalenessLimitSeconds)
        {
            problems.Add("maxStalenessSeconds must be at most 31536000 (one year)");
        }

        // Only when everything else holds, so the datastore is read for a well-formed request only.
        if (problems.Count == 0 && profile == BundleEndpointProfile.HttpsSpiffe && bootstrap is null
            && await _store.GetBundleAsync(trustDomain, ct).ConfigureAwait(false) is null)
        {
            problems.Add($"bootstrapBundle is required for profile https_spiffe: no bundle of \"{trustDomain}\" is stored yet");
        }

        if (problems.Count > 0)
        {
            throw ApiException.InvalidArgument(string.Join("; ", problems));
        }

        var relationship = new FederationRelationship
        {
            TrustDomain = trustDomain,
            Name = spec.Name.Length == 0 ? trustDomain.Name : spec.Name,
            Owner = spec.Owner.Trim(),
            Url = url!,
            Profile = profile!.Value,
            EndpointSpiffeId = endpointId,
            CaBundlePem = spec.CaBundle.Length == 0 ? null : spec.CaBundle,
            MaxStaleness = TimeSpan.FromSeconds(spec.MaxStalenessSeconds),
        };
        // Created only if absent, else updated from the revision read here: of two concurrent applies
        // one wins and the other is told to apply again, never silently overwritten.
        var existing = await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false);
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

        ApiLog.FederationChanged(_logger, "applied", trustDomain.Name);
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

    private const long MaxStalenessLimitSeconds = 365L * 24 * 3600;

    private async Task<Protos.Admin.V1.FederationStatus> StatusAsync(TrustDomain trustDomain, CancellationToken ct)
    {
        var found = await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false) ?? throw FederationNotFound(trustDomain);
        return await StatusAsync(found.Relationship, found.State, ct).ConfigureAwait(false);
    }

    private async Task<Protos.Admin.V1.FederationStatus> StatusAsync(FederationRelationship relationship, FederationRefreshState state, CancellationToken ct)
    {
        var bundle = await _store.GetBundleAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        var entries = await CountFederatingEntriesAsync(relationship.TrustDomain, ct).ConfigureAwait(false);
        var status = FederationStatusView.Compute(relationship, state, bundle?.Bundle, entries, _time.GetUtcNow());
        return ProtoMapper.ToProto(status);
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

    private static Uri? FederationUrl(string text, List<string> problems)
    {
        if (text.Length == 0)
        {
            problems.Add("url is required");
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var url))
        {
            problems.Add($"url \"{text}\" is not an absolute URL");
            return null;
        }

        if (url.Scheme != Uri.UriSchemeHttps)
        {
            problems.Add($"url \"{text}\" must use https");
            return null;
        }

        if (url.Host.Length == 0)
        {
            problems.Add($"url \"{text}\" must have a host");
            return null;
        }

        if (url.UserInfo.Length > 0)
        {
            problems.Add($"url \"{text}\" must not carry user info");
            return null;
        }

        return url;
    }

    private static void CheckCaBundle(string pem, List<string> problems)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException)
        {
            problems.Add("caBundle holds a PEM certificate that does not parse");
            return;
        }

        try
        {
            if (certificates.Count == 0)
            {
                problems.Add("caBundle holds no PEM certificates");
            }
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    private static ApiException FederationNotFound(TrustDomain trustDomain) =>
        ApiException.NotFound($"no federation relationship with trust domain \"{trustDomain}\"");
}
