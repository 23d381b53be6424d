using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// One handshake's peer verification: the peer's chain (its leaf and the intermediates it sent)
/// verified by <see cref="X509SvidVerifier"/> against the bundle of the peer's own trust domain
/// among the bundles the local process may see, then authorized. Keeps the chain, so live
/// connections can be verified again when bundles change, and the reason of a refusal.
/// </summary>
internal sealed class PeerCheck
{
    private readonly X509SvidVerifier _verifier;
    private readonly IX509BundleSource _bundles;
    private readonly Authorizer _authorizer;

    public PeerCheck(X509SvidVerifier verifier, IX509BundleSource bundles, Authorizer authorizer)
    {
        _verifier = verifier;
        _bundles = bundles;
        _authorizer = authorizer;
    }

    public SpiffeId PeerId { get; private set; }

    public IReadOnlyList<X509Certificate2>? Chain { get; private set; }

    /// <summary>Why the peer was refused; null when it was not (or no certificate was seen).</summary>
    public string? Error { get; private set; }

    public RemoteCertificateValidationCallback Callback => Validate;

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            Error = "the peer presented no certificate";
            return false;
        }

        var presented = new List<X509Certificate2>
        {
            certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()),
        };
        if (chain is not null)
        {
            foreach (var extra in chain.ChainPolicy.ExtraStore)
            {
                if (!extra.RawDataMemory.Span.SequenceEqual(presented[0].RawDataMemory.Span))
                {
                    presented.Add(extra);
                }
            }
        }

        try
        {
            var verified = _verifier.Verify(presented, _bundles);
            var authorized = _authorizer.Authorize(verified.Id);
            if (!authorized.IsAllowed)
            {
                Error = $"peer {verified.Id} is not the expected peer";
                return false;
            }

            PeerId = verified.Id;
            Chain = presented;
            return true;
        }
        catch (SpiffeException e)
        {
            Error = e.Message;
            return false;
        }
    }
}
