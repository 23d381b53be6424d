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
/// <remarks>
/// With <c>chains</c>, resumed TLS sessions are verified in full too: SslStream calls the
/// callback on a resumed handshake as well, but an inbound gate then sees only the peer's leaf
/// (OpenSSL keeps no intermediates in a session ticket). The intermediates come from the chain
/// the same leaf presented on its last full handshake (<see cref="VerifiedChainCache"/>), and the
/// whole chain is verified and authorized again now; a lone leaf that is not there fails
/// verification, as it would on a full handshake. <see cref="Confirm"/> makes sure, once the
/// handshake is done, that this callback ran and accepted the certificate the stream holds.
/// </remarks>
internal sealed class PeerCheck
{
    private readonly X509SvidVerifier _verifier;
    private readonly IX509BundleSource _bundles;
    private readonly Authorizer _authorizer;
    private readonly VerifiedChainCache? _chains;

    public PeerCheck(X509SvidVerifier verifier, IX509BundleSource bundles, Authorizer authorizer, VerifiedChainCache? chains = null)
    {
        _verifier = verifier;
        _bundles = bundles;
        _authorizer = authorizer;
        _chains = chains;
    }

    public SpiffeId PeerId { get; private set; }

    public IReadOnlyList<X509Certificate2>? Chain { get; private set; }

    /// <summary>Why the peer was refused; null when it was not (or no certificate was seen).</summary>
    public string? Error { get; private set; }

    public RemoteCertificateValidationCallback Callback => Validate;

    /// <summary>
    /// After the handshake: null when the callback accepted the certificate <paramref name="tls"/>
    /// authenticated, else why the connection must not be used (no byte may be forwarded).
    /// </summary>
    public string? Confirm(SslStream tls)
    {
        if (Chain is null)
        {
            return Error ?? "the peer's certificate was not verified";
        }

        return tls.RemoteCertificate is X509Certificate2 remote && remote.RawDataMemory.Span.SequenceEqual(Chain[0].RawDataMemory.Span)
            ? null
            : "the peer's certificate is not the one verified";
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // Only the last decision counts: Chain is set again below when this one accepts.
        Chain = null;
        PeerId = default;
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

        // A lone leaf is what a resumed session shows a server: take the intermediates it was
        // verified with last time, and verify all of it again below.
        if (presented.Count == 1 && _chains?.Find(presented[0]) is { } remembered)
        {
            presented = [.. remembered];
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
            Error = null;
            _chains?.Add(presented);
            return true;
        }
        catch (SpiffeException e)
        {
            Error = e.Message;
            return false;
        }
    }
}
