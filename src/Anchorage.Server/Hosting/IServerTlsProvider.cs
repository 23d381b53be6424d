using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Server.Hosting;

/// <summary>
/// The agent API listener's TLS: the certificate the server presents and the check of the
/// client's. Asked on every handshake, so a rotated server SVID is used from the next connection.
/// </summary>
public interface IServerTlsProvider
{
    /// <summary>
    /// The server certificate with its private key and the intermediates to send (a context, so
    /// the chain goes out whole rather than being rebuilt from a system store).
    /// </summary>
    SslStreamCertificateContext GetServerCertificate();

    /// <summary>
    /// Accepts or refuses the client. <paramref name="certificate"/> is null when the client sent
    /// none: return false to require one, true to let it through (node attestation needs no SVID).
    /// <paramref name="chain"/> carries the intermediates the client sent in its ExtraStore;
    /// <paramref name="sslPolicyErrors"/> are the platform's (system-root) opinion and are
    /// normally ignored in favour of SPIFFE verification.
    /// </summary>
    bool ValidateClientCertificate(X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors sslPolicyErrors);
}
