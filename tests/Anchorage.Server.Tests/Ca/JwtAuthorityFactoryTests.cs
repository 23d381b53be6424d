using System.Security.Cryptography;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Tests.Ca;

public class JwtAuthorityFactoryTests
{
    [Fact]
    [Trait("Spec", "JWT-SVID 3")]
    public async Task CreateAsync_MintedToken_ValidatesAgainstBundleFromRecord()
    {
        var clock = CaFixture.Clock();
        var keys = new MemoryKeyManager();
        using var authority = await new JwtAuthorityFactory(clock).CreateAsync(keys);
        var record = authority.ToRecord("s1", AuthorityState.Active, clock.GetUtcNow());
        var bundle = new JwtBundle(CaFixture.Td, [new JwtAuthority(record.Id, record.PublicKey)]);

        var token = authority.Mint(CaFixture.Workload, ["api"]);
        var svid = new JwtSvidValidator(clock).Validate(token, "api", bundle);

        Assert.Equal(CaFixture.Workload, svid.Id);
        Assert.Equal(authority.Id, svid.KeyId);
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromMinutes(5), svid.Expiry);
        Assert.Matches("^[A-Za-z0-9]{32}$", authority.Id);
        Assert.Equal("ES256", authority.SigningKey.Algorithm);
        Assert.NotNull(await keys.GetAsync("jwt-" + authority.Id));
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromHours(24), record.NotAfter);
    }

    [Fact]
    public void Mint_LongTtlNearExpiry_CappedAtLifeOverSixThenAtNotAfter()
    {
        var clock = CaFixture.Clock();
        using var authority = new JwtAuthorityFactory(clock).Create(ECDsa.Create(ECCurve.NamedCurves.nistP256), "kid1");
        var validator = new JwtSvidValidator(clock);
        var bundle = new JwtBundle(CaFixture.Td, [authority.SigningKey.ToAuthority()]);

        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromHours(4), validator.Validate(authority.Mint(CaFixture.Workload, ["a"], TimeSpan.FromDays(1)), "a", bundle).Expiry);
        clock.Advance(TimeSpan.FromHours(23.5));
        Assert.Equal(authority.NotAfter, validator.Validate(authority.Mint(CaFixture.Workload, ["a"], TimeSpan.FromHours(1)), "a", bundle).Expiry);
    }

    [Fact]
    public void Create_P384Key_ThrowsArgumentException()
    {
        var factory = new JwtAuthorityFactory(CaFixture.Clock());

        Assert.Equal("jwt authority key must be P-256 (Parameter 'key')", Assert.Throws<ArgumentException>(() => factory.Create(ECDsa.Create(ECCurve.NamedCurves.nistP384))).Message);
        using var ok = factory.Create(ECDsa.Create(ECCurve.NamedCurves.nistP256));
    }

    [Fact]
    public void NewKeyId_Twice_Differs() => Assert.NotEqual(JwtAuthorityFactory.NewKeyId(), JwtAuthorityFactory.NewKeyId());
}
