using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Anchorage.Spiffe.Tests.Bundles;

public class BundleSetTests
{
    private static readonly TrustDomain Acme = TrustDomain.Parse("acme.corp");
    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.acme.corp");

    private static SpiffeBundle Spiffe(TrustDomain td, int slot = 0) => new(
        td,
        [TestAuthorities.Ca(td.Name, TestKeyKind.P256, slot)],
        [TestAuthorities.Jwt("k-" + td.Name, TestKeyKind.P256, slot)]);

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 3")]
    public void TryGet_ReturnsOnlyTheBundleOfTheTrustDomainAsked()
    {
        var set = BundleSet.Empty.With(Spiffe(Acme)).With(Spiffe(Payments, 1));

        Assert.True(set.TryGetX509Bundle(Acme, out var acmeX509));
        Assert.True(set.TryGetJwtBundle(Payments, out var paymentsJwt));
        Assert.Equal(Acme, acmeX509!.TrustDomain);
        Assert.Equal(Payments, paymentsJwt!.TrustDomain);
        Assert.Equal("k-payments.acme.corp", Assert.Single(paymentsJwt.Authorities).KeyId);
        Assert.False(set.TryGetX509Bundle(TrustDomain.Parse("corp"), out var none));
        Assert.Null(none);
        Assert.False(set.TryGetJwtBundle(TrustDomain.Parse("evil.acme.corp"), out _));
        Assert.False(set.TryGetX509Bundle(default, out _));
    }

    [Fact]
    public void With_ReplacesSameTrustDomainAndKeepsOthers()
    {
        var first = Spiffe(Acme);
        var second = Spiffe(Acme, 1);
        var set = BundleSet.Empty.With(first).With(Spiffe(Payments));

        var replaced = set.With(second.ToX509Bundle());

        Assert.True(replaced.TryGetX509Bundle(Acme, out var x509));
        Assert.Same(second.ToX509Bundle(), x509);
        Assert.True(replaced.TryGetJwtBundle(Acme, out var jwt));
        Assert.Same(first.ToJwtBundle(), jwt);
        Assert.True(set.TryGetX509Bundle(Acme, out var old));
        Assert.Same(first.ToX509Bundle(), old);
    }

    [Fact]
    public void Without_RemovesBothKinds()
    {
        var set = BundleSet.Empty.With(Spiffe(Acme)).With(Spiffe(Payments));

        var less = set.Without(Acme);

        Assert.False(less.TryGetX509Bundle(Acme, out _));
        Assert.False(less.TryGetJwtBundle(Acme, out _));
        Assert.True(less.TryGetX509Bundle(Payments, out _));
        Assert.Equal([Payments], less.TrustDomains);
        Assert.Equal([Acme, Payments], set.TrustDomains);
    }

    [Fact]
    public void TrustDomains_UnionOrderedByName()
    {
        var set = BundleSet.Empty
            .With(new JwtBundle(Payments, []))
            .With(new X509Bundle(TrustDomain.Parse("b.org"), []))
            .With(new X509Bundle(Acme, []))
            .With(new JwtBundle(Acme, []));

        Assert.Equal(["acme.corp", "b.org", "payments.acme.corp"], set.TrustDomains.Select(t => t.Name));
        Assert.Empty(BundleSet.Empty.TrustDomains);
    }

    [Fact]
    public void With_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => BundleSet.Empty.With((X509Bundle)null!));
        Assert.Throws<ArgumentNullException>(() => BundleSet.Empty.With((JwtBundle)null!));
        Assert.Throws<ArgumentNullException>(() => BundleSet.Empty.With((SpiffeBundle)null!));
    }

    private static readonly string[] Names = ["a", "b", "a.b", "b.a", "acme.corp", "corp", "acme.corp.", "x-y", "x_y", "0"];

    [Property(MaxTest = 200)]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 3")]
    public Property TryGet_NeverReturnsAnotherDomainsBundle() => Prop.ForAll(
        (from x509 in Gen.Elements(Names).ListOf()
         from jwt in Gen.Elements(Names).ListOf()
         from name in Gen.Elements(Names)
         select (X509: x509.ToList(), Jwt: jwt.ToList(), Asked: name)).ToArbitrary(),
        t =>
        {
            var (x509Domains, jwtDomains, asked) = t;
            var set = BundleSet.Empty;
            foreach (var name in x509Domains)
            {
                set = set.With(new X509Bundle(TrustDomain.Parse(name), []));
            }

            foreach (var name in jwtDomains)
            {
                set = set.With(new JwtBundle(TrustDomain.Parse(name), []));
            }

            var td = TrustDomain.Parse(asked);
            var hasX509 = set.TryGetX509Bundle(td, out var x509);
            var hasJwt = set.TryGetJwtBundle(td, out var jwt);
            return hasX509 == x509Domains.Contains(asked)
                && hasJwt == jwtDomains.Contains(asked)
                && (!hasX509 || x509!.TrustDomain == td)
                && (!hasJwt || jwt!.TrustDomain == td);
        });
}
