using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Federation;

namespace Anchorage.Server.Config;

/// <summary>
/// <c>federation.bundleEndpoint:</c> the listener that serves this trust domain's bundle to
/// federated peers (SPIFFE Trust Domain and Bundle §5): HTTPS, <c>GET /</c> only, no client authentication.
/// </summary>
public sealed record BundleEndpointOptions
{
    /// <summary>Where to listen, e.g. <c>0.0.0.0:8443</c>. Required; differs from the other listeners.</summary>
    public required HostPort Listen { get; init; }

    /// <summary>
    /// How the endpoint authenticates itself (§5.2). Required. <see cref="BundleEndpointProfile.HttpsSpiffe"/>:
    /// the server's own X.509-SVID (<c>spiffe://&lt;trust domain&gt;/anchorage/server</c>);
    /// <see cref="BundleEndpointProfile.HttpsWeb"/>: the certificate in <see cref="ServingCert"/>.
    /// </summary>
    public required BundleEndpointProfile Profile { get; init; }

    /// <summary>The Web PKI certificate and key files: required with https_web, not allowed with https_spiffe.</summary>
    public ServingCertOptions? ServingCert { get; init; }
}
