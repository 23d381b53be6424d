using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// A raw TLS client straight to an inbound gate, presenting a certificate of the caller's choice
/// (what an attacker holding a copied SVID and its key would do), bypassing every agent.
/// </summary>
internal static class MtlsProbe
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> with mTLS presenting <paramref name="certificate"/>, sends one line; the reply, or null when refused.</summary>
    public static async Task<string?> CallAsync(int port, X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        using var connection = await OpenAsync(port, certificate, cancellationToken).ConfigureAwait(false);
        return connection is null ? null : await connection.CallAsync("copied svid", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An mTLS connection to 127.0.0.1:<paramref name="port"/> presenting <paramref name="certificate"/>, or null when the handshake fails.</summary>
    public static async Task<HeldConnection?> OpenAsync(int port, X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HandshakeTimeout);
        Socket? socket = null;
        SslStream? tls = null;
        try
        {
            socket = await DemoEndpoint.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token).ConfigureAwait(false);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "payments.acme.corp",
                    ClientCertificates = [certificate],
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,

                    // The attacker does not care who answers; the gate's check is what is shown.
                    RemoteCertificateValidationCallback = (_, serverCertificate, _, _) => serverCertificate is not null,
                },
                timeout.Token).ConfigureAwait(false);
            var held = new HeldConnection(tls);
            tls = null;
            socket = null;
            return held;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
        finally
        {
            tls?.Dispose();
            socket?.Dispose();
        }
    }
}
