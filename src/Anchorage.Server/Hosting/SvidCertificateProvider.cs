using System.Net.Security;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;

namespace Anchorage.Server.Hosting;

/// <summary>
/// Presents the X.509-SVID a source holds at each handshake: the bundle endpoint's
/// <c>https_spiffe</c> profile (SPIFFE Trust Domain and Bundle §5.2.2), with the server's own SVID.
/// </summary>
public sealed class SvidCertificateProvider : IServerCertificateProvider
{
    private readonly IX509SvidSource _svids;

    /// <param name="svids">The SVID to present; asked again for every handshake, so rotation needs no restart.</param>
    public SvidCertificateProvider(IX509SvidSource svids)
    {
        ArgumentNullException.ThrowIfNull(svids);
        _svids = svids;
    }

    /// <inheritdoc/>
    public SslStreamCertificateContext GetServerCertificate() => SpiffeTls.TlsServer(_svids).ServerCertificateContext!;
}
