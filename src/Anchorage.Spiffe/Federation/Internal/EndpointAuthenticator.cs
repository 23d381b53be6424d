using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Spiffe.Federation.Internal;

/// <summary>
/// Authenticates the TLS server of one fetch (every hop of it) by the relationship's profile
/// (SPIFFE_Trust_Domain_and_Bundle §5.2) and remembers why it refused, since the HTTP stack only
/// reports that the callback said no. One instance per fetch: hops run one after another.
/// </summary>
internal sealed class EndpointAuthenticator
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    private readonly BundleEndpoint _relationship;
    private readonly SpiffeBundle? _current;
    private readonly X509Certificate2Collection _webRoots;
    private readonly TimeProvider _time;
    private readonly X509SvidVerifier _verifier;
    private Uri _at;

    public EndpointAuthenticator(
        BundleEndpoint relationship,
        SpiffeBundle? current,
        X509Certificate2Collection webRoots,
        TimeProvider time,
        X509SvidVerifier verifier)
    {
        _relationship = relationship;
        _current = current;
        _webRoots = webRoots;
        _time = time;
        _verifier = verifier;
        _at = relationship.Url;
    }

    /// <summary>Why the last handshake was refused; null when it was not.</summary>
    public string? Failure { get; private set; }

    /// <summary>Starts a hop to <paramref name="url"/> (its host is what https_web checks).</summary>
    public void Begin(Uri url)
    {
        _at = url;
        Failure = null;
    }

    /// <summary>The <see cref="RemoteCertificateValidationCallback"/> of the fetch's handler.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            Failure = "endpoint presented no certificate";
            return false;
        }

        // The chain the peer sent: its leaf and the intermediates (SslStream puts them in ExtraStore).
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var presented = new List<X509Certificate2> { leaf };
        if (chain is not null)
        {
            foreach (var extra in chain.ChainPolicy.ExtraStore)
            {
                if (!extra.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span))
                {
                    presented.Add(extra);
                }
            }
        }

        Failure = _relationship.Profile == BundleEndpointProfile.HttpsSpiffe
            ? CheckSpiffe(presented)
            : CheckWeb(leaf, presented);
        return Failure is null;
    }

    /// <summary>
    /// §5.2.2: the certificate must be an X.509-SVID that verifies with the latest stored bundle of
    /// the relationship's trust domain and carries exactly the configured endpoint SPIFFE ID. Host
    /// names play no part.
    /// </summary>
    private string? CheckSpiffe(List<X509Certificate2> presented)
    {
        var trustDomain = _relationship.TrustDomain;
        if (_current is null || _current.X509Authorities.IsEmpty)
        {
            return $"bundle of {trustDomain} has no X.509 authorities to authenticate its endpoint";
        }

        SpiffeId id;
        try
        {
            id = _verifier.Verify(presented, _current.ToX509Bundle()).Id;
        }
        catch (BundleNotFoundException)
        {
            // The verifier looks the bundle up by the SVID's own trust domain and finds only ours.
            var other = X509Svid.TryGetSpiffeId(presented[0], out var named) ? named.TrustDomain.Name : "another trust domain";
            return $"endpoint SVID is of trust domain {other}, not {trustDomain}";
        }
        catch (SpiffeException ex)
        {
            return $"endpoint SVID does not verify: {ex.Message}";
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return $"endpoint certificate cannot be read: {ex.Message}";
        }

        return id == _relationship.EndpointSpiffeId
            ? null
            : $"endpoint SPIFFE ID is {id}, expected {_relationship.EndpointSpiffeId}";
    }

    /// <summary>
    /// §5.2.1: a Web PKI certificate for the URL's host. The chain must end at a system root, or at one
    /// of the extra roots (the relationship's caBundle and the options' roots); the two are tried one
    /// after the other (X509Chain trusts either the system store or a custom store, never their union),
    /// so a path that needs both is refused. The name is matched against the DNS and IP SANs only
    /// (no common-name fallback), wildcards allowed. Missing intermediates are never downloaded
    /// and revocation is not checked.
    /// </summary>
    private string? CheckWeb(X509Certificate2 leaf, List<X509Certificate2> presented)
    {
        var host = _at.HostNameType == UriHostNameType.Dns ? _at.IdnHost : _at.DnsSafeHost;
        var status = BuildChain(leaf, presented, custom: false);
        if (status is not null && _webRoots.Count > 0)
        {
            status = BuildChain(leaf, presented, custom: true);
        }

        if (status is not null)
        {
            var roots = _webRoots.Count > 0 ? "the system roots or the configured caBundle" : "the system roots";
            return $"certificate of {host} does not chain to {roots} ({status})";
        }

        return leaf.MatchesHostname(host, allowWildcards: true, allowCommonName: false)
            ? null
            : $"certificate is not for host {host}";
    }

    /// <summary>Null when a chain builds; otherwise the chain's status flags.</summary>
    private string? BuildChain(X509Certificate2 leaf, List<X509Certificate2> presented, bool custom)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;

        // No AIA fetches: the endpoint sends its intermediates, and a TLS callback makes no hidden requests.
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        policy.ApplicationPolicy.Add(ServerAuth);
        for (var i = 1; i < presented.Count; i++)
        {
            policy.ExtraStore.Add(presented[i]);
        }

        if (custom)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(_webRoots);
        }

        if (chain.Build(leaf))
        {
            return null;
        }

        var flags = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct(StringComparer.Ordinal).ToArray();
        return flags.Length == 0 ? "no chain" : string.Join(", ", flags);
    }
}
