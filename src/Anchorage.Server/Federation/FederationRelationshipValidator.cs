using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Federation;

/// <summary>
/// The one set of rules for a federation relationship (<c>kind: FederatedTrustDomain</c>) and its
/// conversion from the wire shape, shared by the server's admin API and the CLI's file reader (as
/// SPIRE's <c>api/trustdomain.go</c> is shared by its callers). Every problem names the field at
/// fault (<see cref="FederationSpecProblem.Key"/>, the proto JSON name) so that each caller can show
/// its own key path: the admin API as is, the CLI as the YAML path with the line.
/// </summary>
/// <remarks>
/// Rules: a trust domain other than the server's own; an owner; an https URL with a host and no user
/// info; profile <c>https_web</c> or <c>https_spiffe</c>; for https_spiffe an endpoint SPIFFE ID in
/// the trust domain, no CA bundle, a bootstrap bundle that parses when given; for https_web no
/// endpoint ID, no bootstrap bundle, a CA bundle of PEM certificates when given; a max staleness
/// and a review interval (when given) between one second and one year. Rules that need the datastore (an
/// https_spiffe relationship needs a bootstrap bundle when none is stored) stay with the server.
/// </remarks>
public static class FederationRelationshipValidator
{
    /// <summary>The longest max staleness accepted, in seconds: one year.</summary>
    public const long MaxIntervalSeconds = 365L * 24 * 3600;

    /// <summary>
    /// Checks <paramref name="spec"/> and, when it holds, converts it. <paramref name="ownTrustDomain"/>
    /// is the server's trust domain (refused as a federation target); empty when the caller does not know it.
    /// </summary>
    public static FederationSpecResult Validate(FederatedTrustDomain spec, TrustDomain ownTrustDomain = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = new List<FederationSpecProblem>();
        var trustDomain = default(TrustDomain);
        if (spec.TrustDomain.Length == 0)
        {
            problems.Add(new("trustDomain", "trustDomain is required"));
        }
        else if (!TrustDomain.TryParse(spec.TrustDomain, out trustDomain, out var tdError))
        {
            problems.Add(new("trustDomain", $"trustDomain \"{spec.TrustDomain}\": {tdError}"));
        }
        else if (!ownTrustDomain.IsEmpty && trustDomain == ownTrustDomain)
        {
            problems.Add(new("trustDomain", $"trustDomain \"{trustDomain}\" is the server's own trust domain"));
        }

        if (string.IsNullOrWhiteSpace(spec.Owner))
        {
            problems.Add(new("owner", "owner is required"));
        }

        var url = Url(spec.Url, problems);
        BundleEndpointProfile? profile = null;
        if (spec.Profile.Length == 0)
        {
            problems.Add(new("profile", "profile is required (https_web or https_spiffe)"));
        }
        else if (BundleEndpointProfiles.TryParse(spec.Profile, out var parsed))
        {
            profile = parsed;
        }
        else
        {
            problems.Add(new("profile", $"profile \"{spec.Profile}\" is not https_web or https_spiffe"));
        }

        SpiffeId? endpointId = null;
        SpiffeBundle? bootstrap = null;
        if (profile == BundleEndpointProfile.HttpsSpiffe)
        {
            endpointId = EndpointId(spec.EndpointSpiffeId, trustDomain, problems);
            if (spec.CaBundle.Length > 0)
            {
                problems.Add(new("caBundle", "caBundle is only for profile https_web"));
            }

            if (spec.BootstrapBundle.Length > 0 && !trustDomain.IsEmpty)
            {
                try
                {
                    bootstrap = SpiffeBundle.Load(trustDomain, Encoding.UTF8.GetBytes(spec.BootstrapBundle));
                }
                catch (FormatException ex)
                {
                    problems.Add(new("bootstrapBundle", "bootstrapBundle: " + ex.Message));
                }
            }
        }
        else if (profile == BundleEndpointProfile.HttpsWeb)
        {
            if (spec.EndpointSpiffeId.Length > 0)
            {
                problems.Add(new("endpointSpiffeId", "endpointSpiffeId is only for profile https_spiffe"));
            }

            if (spec.BootstrapBundle.Length > 0)
            {
                problems.Add(new("bootstrapBundle", "bootstrapBundle is only for profile https_spiffe"));
            }

            if (spec.CaBundle.Length > 0 && CaBundleProblem(spec.CaBundle) is { } caProblem)
            {
                problems.Add(new("caBundle", "caBundle " + caProblem));
            }
        }

        Interval(spec.MaxStalenessSeconds, "maxStalenessSeconds", required: true, problems);
        Interval(spec.ReviewEverySeconds, "reviewEverySeconds", required: false, problems);
        if (problems.Count > 0)
        {
            return new FederationSpecResult { Problems = problems };
        }

        var relationship = new FederationRelationship
        {
            Endpoint = new BundleEndpoint
            {
                TrustDomain = trustDomain,
                Url = url!,
                Profile = profile!.Value,
                EndpointSpiffeId = endpointId,
                CaBundlePem = spec.CaBundle.Length == 0 ? null : spec.CaBundle,
            },
            Name = spec.Name.Length == 0 ? trustDomain.Name : spec.Name,
            Owner = spec.Owner.Trim(),
            MaxStaleness = TimeSpan.FromSeconds(spec.MaxStalenessSeconds),
            ReviewEvery = spec.ReviewEverySeconds == 0 ? null : TimeSpan.FromSeconds(spec.ReviewEverySeconds),
        };
        return new FederationSpecResult { Problems = problems, Relationship = relationship, Bootstrap = bootstrap };
    }

    private static SpiffeId? EndpointId(string text, TrustDomain trustDomain, List<FederationSpecProblem> problems)
    {
        if (text.Length == 0)
        {
            problems.Add(new("endpointSpiffeId", "endpointSpiffeId is required for profile https_spiffe"));
        }
        else if (!SpiffeId.TryParse(text, out var id, out var idError))
        {
            problems.Add(new("endpointSpiffeId", $"endpointSpiffeId \"{text}\": {idError}"));
        }
        else if (!trustDomain.IsEmpty && !id.MemberOf(trustDomain))
        {
            problems.Add(new("endpointSpiffeId", $"endpointSpiffeId \"{id}\" is not in trust domain \"{trustDomain}\""));
        }
        else
        {
            return id;
        }

        return null;
    }

    private static void Interval(long seconds, string key, bool required, List<FederationSpecProblem> problems)
    {
        if (seconds < 0 || (required && seconds == 0))
        {
            problems.Add(new(key, key + " must be positive"));
        }
        else if (seconds > MaxIntervalSeconds)
        {
            problems.Add(new(key, key + " must be at most 31536000 (one year)"));
        }
    }

    private static Uri? Url(string text, List<FederationSpecProblem> problems)
    {
        string? problem = null;
        Uri? url = null;
        if (text.Length == 0)
        {
            problem = "url is required";
        }
        else if (!Uri.TryCreate(text, UriKind.Absolute, out url))
        {
            problem = $"url \"{text}\" is not an absolute URL";
        }
        else if (url.Scheme != Uri.UriSchemeHttps)
        {
            problem = $"url \"{text}\" must use https";
        }
        else if (url.Host.Length == 0)
        {
            problem = $"url \"{text}\" must have a host";
        }
        else if (url.UserInfo.Length > 0)
        {
            problem = $"url \"{text}\" must not carry user info";
        }

        if (problem is null)
        {
            return url;
        }

        problems.Add(new("url", problem));
        return null;
    }

    private static string? CaBundleProblem(string pem)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
            return certificates.Count == 0 ? "holds no PEM certificates" : null;
        }
        catch (CryptographicException)
        {
            return "holds a PEM certificate that does not parse";
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }
}
