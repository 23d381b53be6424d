using System.Net.Security;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Grpc.Net.Client;

namespace Anchorage.Agent.Node;

/// <summary>
/// One gRPC channel to the server's agent API. The server must present the X.509-SVID
/// <c>spiffe://&lt;td&gt;/anchorage/server</c>, verified with the agent's current bundle of its own
/// trust domain; the agent presents its SVID (none for attestation). A channel is bound to one
/// agent SVID: the server accepts only the SVID it issued last, so a renewal opens a new channel.
/// </summary>
internal sealed class ServerChannel : IDisposable
{
    // Large enough for a sync page of 1000 entries with long selector lists.
    private const int MaxMessageBytes = 32 * 1024 * 1024;

    private readonly GrpcChannel _channel;

    private ServerChannel(GrpcChannel channel)
    {
        _channel = channel;
        Client = new AgentApi.AgentApiClient(channel);
    }

    /// <summary>The agent API client over this channel.</summary>
    public AgentApi.AgentApiClient Client { get; }

    /// <summary>A channel that authenticates the server with <paramref name="bundles"/> and presents <paramref name="svid"/> when given.</summary>
    public static ServerChannel Open(
        HostPort address, TrustDomain trustDomain, IX509BundleSource bundles, X509Svid? svid, TimeProvider time)
    {
        var authorizer = Authorizer.Exact(SpiffeId.FromPath(trustDomain, "/anchorage/server"));
        var ssl = svid is null
            ? SpiffeTls.TlsClient(bundles, authorizer, time)
            : SpiffeTls.MtlsClient(svid, bundles, authorizer, time);
        return Open(address, ssl);
    }

    /// <summary>
    /// A channel that accepts any server certificate: only for <c>insecureBootstrap</c>, the very
    /// first attestation of an agent that was given no trust bundle.
    /// </summary>
    public static ServerChannel OpenInsecure(HostPort address)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = string.Empty,
#pragma warning disable CA5359 // Deliberate and logged loudly by the caller: insecureBootstrap trusts on first use.
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
#pragma warning restore CA5359
        };
        return Open(address, ssl);
    }

    private static ServerChannel Open(HostPort address, SslClientAuthenticationOptions ssl)
    {
        ssl.ApplicationProtocols = [SslApplicationProtocol.Http2];

        // Every handshake is verified against the current bundle; a resumed one would not be.
        ssl.AllowTlsResume = false;
#pragma warning disable CA2000 // The channel owns and disposes the handler (DisposeHttpClient).
        var handler = new SocketsHttpHandler
        {
            SslOptions = ssl,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            EnableMultipleHttp2Connections = true,
        };
#pragma warning restore CA2000
        var channel = GrpcChannel.ForAddress(
            new Uri("https://" + address),
            new GrpcChannelOptions
            {
                HttpHandler = handler,
                DisposeHttpClient = true,
                MaxReceiveMessageSize = MaxMessageBytes,
            });
        return new ServerChannel(channel);
    }

    /// <inheritdoc/>
    public void Dispose() => _channel.Dispose();
}
