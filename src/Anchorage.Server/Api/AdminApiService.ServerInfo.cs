using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Federation;
using Grpc.Core;

namespace Anchorage.Server.Api;

/// <summary>What the server is: its trust domain and bundle endpoint (for <c>anchorage inventory</c>).</summary>
public sealed partial class AdminApiService
{
    /// <summary>
    /// The local trust domain and, when <c>federation.bundleEndpoint</c> is configured, its profile
    /// and the address its listener is bound to (the real port when <c>listen</c> names port 0;
    /// the configured address only if asked before the listener is up) (SPIFFE Trust Domain and Bundle §5).
    /// </summary>
    public override Task<ServerInfo> GetServerInfo(GetServerInfoRequest request, ServerCallContext context)
    {
        var info = new ServerInfo { TrustDomain = _ca.TrustDomain.Name };
        if (_bundleEndpoint is { } endpoint)
        {
            info.BundleEndpoint = new BundleEndpointInfo
            {
                Profile = BundleEndpointProfiles.ToName(endpoint.Profile),
                Listen = _bound?.BundleEndpoint?.ToString() ?? endpoint.Listen.ToString(),
            };
        }

        return Task.FromResult(info);
    }
}
