using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;

namespace Anchorage.Server.Tests.Federation;

/// <summary>The one validator + converter of federation relationships, shared by the admin API and the CLI.</summary>
public sealed class FederationRelationshipValidatorTests
{
    private static FederatedTrustDomain Spiffe() => new()
    {
        TrustDomain = "payments.example.com",
        Owner = " payments-platform@acme.corp ",
        Url = "https://payments.example.com:8443/",
        Profile = "https_spiffe",
        EndpointSpiffeId = "spiffe://payments.example.com/anchorage/server",
        BootstrapBundle = TestAuthorities.Ca("payments.example.com").ExportCertificatePem(),
        MaxStalenessSeconds = 1800,
    };

    [Fact]
    public void Validate_ValidSpiffeDeclaration_ConvertedWithDefaults()
    {
        var result = FederationRelationshipValidator.Validate(Spiffe(), TrustDomain.Parse("acme.corp"));

        Assert.True(result.IsValid);
        var relationship = result.Relationship!;
        Assert.Equal("payments.example.com", relationship.Name);
        Assert.Equal("payments-platform@acme.corp", relationship.Owner);
        Assert.Equal(BundleEndpointProfile.HttpsSpiffe, relationship.Profile);
        Assert.Equal(SpiffeId.Parse("spiffe://payments.example.com/anchorage/server"), relationship.EndpointSpiffeId);
        Assert.Equal(TimeSpan.FromMinutes(30), relationship.MaxStaleness);
        Assert.Equal(TrustDomain.Parse("payments.example.com"), result.Bootstrap!.TrustDomain);
    }

    [Fact]
    public void Validate_SeveralProblems_EveryOneWithItsKeyAndNoRelationship()
    {
        var spec = Spiffe();
        spec.Owner = "";
        spec.Url = "https://u:p@payments.example.com/";
        spec.CaBundle = "roots";
        spec.MaxStalenessSeconds = -1;

        var result = FederationRelationshipValidator.Validate(spec);

        Assert.Null(result.Relationship);
        Assert.Equal(
            [
                new FederationSpecProblem("owner", "owner is required"),
                new FederationSpecProblem("url", "url \"https://u:p@payments.example.com/\" must not carry user info"),
                new FederationSpecProblem("caBundle", "caBundle is only for profile https_web"),
                new FederationSpecProblem("maxStalenessSeconds", "maxStalenessSeconds must be positive"),
            ],
            result.Problems);
        Assert.All(result.Problems, p => Assert.StartsWith(p.Key, p.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_OwnTrustDomainOnlyWhenKnown_RefusedByServerAcceptedOffline()
    {
        var spec = Spiffe();

        var server = FederationRelationshipValidator.Validate(spec, TrustDomain.Parse("payments.example.com"));
        var offline = FederationRelationshipValidator.Validate(spec);

        Assert.Equal("trustDomain \"payments.example.com\" is the server's own trust domain", Assert.Single(server.Problems).Message);
        Assert.True(offline.IsValid);
    }
}
