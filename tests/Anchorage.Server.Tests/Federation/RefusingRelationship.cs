using Anchorage.Server.Federation;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Federation;

/// <summary>Relationships for refresher tests: an https_web endpoint on a loopback port that refuses connections, so a fetch is a quick, real rejection.</summary>
internal static class RefusingRelationship
{
    public static FederationRelationship On(TrustDomain td, int port, string owner) => new()
    {
        Endpoint = new BundleEndpoint
        {
            TrustDomain = td,
            Url = new Uri($"https://127.0.0.1:{port}/"),
            Profile = BundleEndpointProfile.HttpsWeb,
        },
        Name = td.Name,
        Owner = owner,
        MaxStaleness = TimeSpan.FromMinutes(30),
    };
}
