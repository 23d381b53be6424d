using System.Net.Security;

namespace Anchorage.Server.Hosting;

/// <summary>
/// The certificate a listener without client authentication presents (the bundle endpoint).
/// Asked on every handshake, so a rotated or reloaded certificate is used from the next connection.
/// </summary>
public interface IServerCertificateProvider
{
    /// <summary>The certificate with its private key and the intermediates to send.</summary>
    SslStreamCertificateContext GetServerCertificate();
}
