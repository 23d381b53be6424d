using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;

namespace Anchorage.Server.Hosting;

/// <summary>
/// <see cref="IServerTlsProvider"/> from SPIFFE sources: presents the SVID the source holds at
/// each handshake, and verifies a client SVID with the bundle of the client's own trust domain
/// (X509-SVID §5, via <see cref="X509SvidVerifier"/>) before passing its ID to an <see cref="Authorizer"/>.
/// </summary>
public sealed class SpiffeServerTlsProvider : IServerTlsProvider
{
    private readonly IX509SvidSource _svids;
    private readonly RemoteCertificateValidationCallback _verifyPeer;

    /// <param name="svids">The server's SVID source.</param>
    /// <param name="bundles">The bundles client SVIDs are verified with.</param>
    /// <param name="authorizer">Which verified client IDs are accepted.</param>
    /// <param name="requireClientCertificate">False lets clients without a certificate through (their requests then carry no identity).</param>
    /// <param name="timeProvider">The clock for certificate validity; default the system clock.</param>
    public SpiffeServerTlsProvider(
        IX509SvidSource svids,
        IX509BundleSource bundles,
        Authorizer authorizer,
        bool requireClientCertificate = true,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(svids);
        _svids = svids;
        RequireClientCertificate = requireClientCertificate;

        // SpiffeTls's peer check is the same in both directions: verify the peer's presented
        // chain against its own trust domain's bundle, then authorize its ID.
        _verifyPeer = SpiffeTls.TlsClient(bundles, authorizer, timeProvider).RemoteCertificateValidationCallback!;
    }

    /// <summary>True when a client without a certificate is refused.</summary>
    public bool RequireClientCertificate { get; }

    /// <inheritdoc/>
    public SslStreamCertificateContext GetServerCertificate() => SpiffeTls.TlsServer(_svids).ServerCertificateContext!;

    /// <inheritdoc/>
    public bool ValidateClientCertificate(X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors sslPolicyErrors) =>
        certificate is null ? !RequireClientCertificate : _verifyPeer(this, certificate, chain, sslPolicyErrors);
}
