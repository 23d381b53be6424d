using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Anchorage.AspNetCore.Http;

/// <summary>
/// <see cref="GrpcChannelOptions"/> for SPIFFE mTLS (go-spiffe's <c>grpccredentials.MTLSClientCredentials</c>):
/// <c>GrpcChannel.ForAddress("https://orders:8443", SpiffeGrpcChannelOptions.Mtls(source, source, Authorizer.Exact(id)))</c>.
/// The channel presents the current SVID and recycles its connections when it rotates
/// (<see cref="SpiffeMtlsHttpHandler"/>).
/// </summary>
public static class SpiffeGrpcChannelOptions
{
    /// <summary>Channel options whose HTTP handler is a <see cref="SpiffeMtlsHttpHandler"/>; the channel disposes it.</summary>
    public static GrpcChannelOptions Mtls(
        IX509SvidSource svids,
        IX509BundleSource bundles,
        Authorizer serverAuthorizer,
        SpiffeMtlsHttpHandlerOptions? handlerOptions = null,
        ILogger? logger = null) => new()
        {
            HttpHandler = new SpiffeMtlsHttpHandler(svids, bundles, serverAuthorizer, handlerOptions, logger),
            DisposeHttpClient = true,
        };
}
