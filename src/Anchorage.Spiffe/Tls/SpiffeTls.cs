using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Spiffe.Tls;

/// <summary>
/// Builds <see cref="SslStream"/> options that authenticate with SPIFFE: the local side presents
/// the SVID its source holds <em>when the options are built</em> (with its intermediates), and
/// the peer's chain is verified by <see cref="X509SvidVerifier"/> with the bundle of the peer's
/// own trust domain, read from the bundle source at handshake time, then passed to an
/// <see cref="Authorizer"/>. Host names and system roots play no part (X509-SVID §5). TLS session
/// resumption is off on both sides: every connection is a full handshake verified against the
/// bundle current at that moment. (The agent gate's direct mTLS turns it on for itself and verifies
/// each resumed session in full again, with a store of verified chains: docs/gate-transport.md.)
/// </summary>
/// <remarks>
/// Build options per connection (they are cheap: certificate contexts are cached per SVID), or,
/// for servers, hand <see cref="MtlsServerCallback"/> to
/// <see cref="SslStream.AuthenticateAsServerAsync(ServerOptionsSelectionCallback, object?, CancellationToken)"/>:
/// either way each handshake presents the current SVID, so rotation needs no extra API.
/// </remarks>
public static class SpiffeTls
{
    // Shared so the verified-intermediate cache outlives one connection's options.
    private static readonly X509SvidVerifier SystemClockVerifier = new();

    // One certificate context per SVID instance: SVIDs are immutable, so the context is too.
    private static readonly ConditionalWeakTable<X509Svid, SslStreamCertificateContext> Contexts = new();

    /// <summary>mTLS client: presents the current SVID and verifies the server's SVID.</summary>
    public static SslClientAuthenticationOptions MtlsClient(
        IX509SvidSource svids, IX509BundleSource bundles, Authorizer authorizer, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(svids);
        var options = TlsClient(bundles, authorizer, timeProvider);
        options.ClientCertificateContext = ContextFor(svids.GetX509Svid());
        return options;
    }

    /// <summary>TLS client without a client certificate: verifies the server's SVID only.</summary>
    public static SslClientAuthenticationOptions TlsClient(
        IX509BundleSource bundles, Authorizer authorizer, TimeProvider? timeProvider = null) => new()
    {
        // SNI is not used for authentication; a fixed name keeps SslStream from using the host.
        TargetHost = string.Empty,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = Validator(bundles, authorizer, timeProvider),
        CertificateChainPolicy = NoSystemTrust(),

        // Off, so a server whose authority was revoked since an earlier handshake cannot be
        // accepted again on a session (SPIRE 1.14 fixed that bypass in Go). .NET 10 on Linux does
        // call the callback on a resumed handshake, with the server's chain kept in the session,
        // but that is the runtime's behaviour, not its contract: a path that resumes must also
        // check after the handshake that its callback ran, as the gate's direct transport does.
        AllowTlsResume = false,
    };

    /// <summary>mTLS server: presents the current SVID and requires and verifies a client SVID.</summary>
    public static SslServerAuthenticationOptions MtlsServer(
        IX509SvidSource svids, IX509BundleSource bundles, Authorizer authorizer, TimeProvider? timeProvider = null)
    {
        var options = TlsServer(svids);
        options.ClientCertificateRequired = true;
        options.RemoteCertificateValidationCallback = Validator(bundles, authorizer, timeProvider);
        options.CertificateChainPolicy = NoSystemTrust();
        return options;
    }

    /// <summary>TLS server: presents the current SVID; no client certificate is asked for.</summary>
    public static SslServerAuthenticationOptions TlsServer(IX509SvidSource svids)
    {
        ArgumentNullException.ThrowIfNull(svids);
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = ContextFor(svids.GetX509Svid()),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

            // A resumed session shows the callback the client's leaf but not the intermediates it
            // sent (OpenSSL keeps none in a ticket), so it cannot be verified again without a store
            // of verified chains (X509-SVID §5.1): every connection is a full handshake.
            AllowTlsResume = false,
        };
    }

    /// <summary>
    /// A per-handshake options callback for <see cref="SslStream"/> servers: every handshake gets
    /// <see cref="MtlsServer"/> options built with the SVID current at that moment.
    /// </summary>
    public static ServerOptionsSelectionCallback MtlsServerCallback(
        IX509SvidSource svids, IX509BundleSource bundles, Authorizer authorizer, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(svids);
        ArgumentNullException.ThrowIfNull(bundles);
        ArgumentNullException.ThrowIfNull(authorizer);
        return (_, _, _, _) => ValueTask.FromResult(MtlsServer(svids, bundles, authorizer, timeProvider));
    }

    /// <summary>
    /// The SPIFFE ID of an authenticated peer: the URI SAN of the certificate the handshake
    /// verified. Empty when the peer presented none.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stream has not been authenticated.</exception>
    public static SpiffeId PeerId(SslStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.RemoteCertificate is not X509Certificate2 leaf)
        {
            return default;
        }

        return X509Svid.TryGetSpiffeId(leaf, out var id) ? id : default;
    }

    private static SslStreamCertificateContext ContextFor(X509Svid svid) =>
        Contexts.GetValue(svid, static s => SslStreamCertificateContext.Create(
            s.GetCertificateWithPrivateKey(),
            new X509Certificate2Collection(s.Certificates.Skip(1).ToArray()),
            offline: true));

    /// <summary>
    /// The policy of the chain <see cref="SslStream"/> builds before it calls the validation
    /// callback: no roots at all and no downloads. The callback ignores that chain's verdict (it
    /// verifies against the bundle, <see cref="X509SvidVerifier"/>) and takes only the
    /// intermediates the peer sent from it; with the default policy the runtime also searched the
    /// machine's trust store for an issuer on every handshake (profiled: X509_NAME_cmp over the
    /// system roots), work whose answer nothing reads, and which could vary with the host's store.
    /// </summary>
    private static X509ChainPolicy NoSystemTrust() => new()
    {
        TrustMode = X509ChainTrustMode.CustomRootTrust,
        RevocationMode = X509RevocationMode.NoCheck,
        DisableCertificateDownloads = true,
    };

    private static RemoteCertificateValidationCallback Validator(
        IX509BundleSource bundles, Authorizer authorizer, TimeProvider? timeProvider)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        ArgumentNullException.ThrowIfNull(authorizer);
        var verifier = timeProvider is null ? SystemClockVerifier : new X509SvidVerifier(timeProvider);
        return (_, certificate, chain, _) =>
        {
            // Every SPIFFE peer authenticates: no certificate, no connection.
            if (certificate is null)
            {
                return false;
            }

            // The peer's own chain: its leaf and the intermediates it sent, never a system store.
            var presented = new List<X509Certificate2> { certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) };
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
                var verified = verifier.Verify(presented, bundles);
                return authorizer.Authorize(verified.Id).IsAllowed;
            }
            catch (SpiffeException)
            {
                return false;
            }
        };
    }
}
