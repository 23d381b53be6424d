using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Anchorage.Spiffe.Tests.Bundles;

/// <summary>Emit then parse (SPIFFE bundle JSON, SPIFFE_Trust_Domain_and_Bundle §4) gives the same bundle back.</summary>
public class SpiffeBundleRoundTripTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");

    private static readonly TestKeyKind[] Kinds = [TestKeyKind.P256, TestKeyKind.P384, TestKeyKind.P521, TestKeyKind.Rsa2048];

    /// <summary>A bundle's parts: X.509 authorities (kind, slot), JWT authorities (kid, kind, slot), sequence, hint.</summary>
    private sealed record Parts(
        (TestKeyKind Kind, int Slot)[] X509,
        (string Kid, TestKeyKind Kind, int Slot)[] Jwt,
        ulong? Sequence,
        TimeSpan? Hint);

    // Key ids: printable ASCII, JSON's escapes (quote, backslash, control characters) and non-ASCII text.
    private static Gen<string> KidGen =>
        Gen.OneOf(
            Gen.Elements("abcXYZ0189-_.:/ ".ToCharArray()),
            Gen.Elements('"', '\\', '\n', '\t', '\u0001', '\u007f', 'é', '鍵', '\u2028'))
        .ArrayOf()
        .Where(c => c.Length is > 0 and <= 40)
        .Select(c => new string(c));

    private static Gen<Parts> PartsGen =>
        from x509Count in Gen.Choose(0, 3)
        from x509 in Gen.Zip(Gen.Elements(Kinds), Gen.Choose(0, 1)).ArrayOf(x509Count)
        from jwtCount in Gen.Choose(0, 3)
        from jwt in (from kid in KidGen from kind in Gen.Elements(Kinds) from slot in Gen.Choose(0, 1) select (kid, kind, slot)).ArrayOf(jwtCount)
        from hasSequence in ArbMap.Default.GeneratorFor<bool>()
        from sequence in ArbMap.Default.GeneratorFor<ulong>()
        from hintTicks in Gen.OneOf(Gen.Constant(-1L), Gen.Choose(0, int.MaxValue).Select(t => (long)t * 1000))
        select new Parts(
            x509.Select(p => (p.Item1, p.Item2)).Distinct().ToArray(),
            jwt.DistinctBy(p => p.Item1).Select(p => (p.Item1, p.Item2, p.Item3)).ToArray(),
            hasSequence ? sequence : null,
            hintTicks < 0 ? null : TimeSpan.FromTicks(hintTicks));

    private static SpiffeBundle Build(Parts p) => new(
        Td,
        p.X509.Select(a => TestAuthorities.Ca(Td.Name, a.Kind, a.Slot)),
        p.Jwt.Select(a => TestAuthorities.Jwt(a.Kid, a.Kind, a.Slot)),
        p.Sequence,
        p.Hint);

    [Property(MaxTest = 100)]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4")]
    public Property ToUtf8Json_ThenParse_GivesTheSameBundle() => Prop.ForAll(PartsGen.ToArbitrary(), p =>
    {
        var bundle = Build(p);
        var json = bundle.ToUtf8Json();

        var parsed = SpiffeBundle.Parse(Td, json, out var warnings);

        // The hint is emitted in whole seconds, rounded up.
        var hint = p.Hint is { } h ? TimeSpan.FromSeconds(Math.Ceiling(h.TotalSeconds)) : (TimeSpan?)null;
        return warnings.Count == 0
            && parsed.TrustDomain == Td
            && parsed.SequenceNumber == p.Sequence
            && parsed.RefreshHint == hint
            && parsed.X509Authorities.Select(c => c.Thumbprint).SequenceEqual(bundle.X509Authorities.Select(c => c.Thumbprint))
            && parsed.JwtAuthorities.Length == bundle.JwtAuthorities.Length
            && parsed.JwtAuthorities.Zip(bundle.JwtAuthorities).All(a => a.First.SameAs(a.Second))
            && parsed.ToUtf8Json().AsSpan().SequenceEqual(json);
    });

    [Fact]
    public void ToUtf8Json_ThenParse_ControlWithEveryPart_GivesTheSameBundle()
    {
        var bundle = Build(new Parts(
            [(TestKeyKind.P256, 0), (TestKeyKind.Rsa2048, 0)],
            [("k\"1\\\n鍵", TestKeyKind.P384, 0), ("rsa", TestKeyKind.Rsa2048, 1)],
            ulong.MaxValue,
            TimeSpan.FromMilliseconds(1500)));

        var parsed = SpiffeBundle.Parse(Td, bundle.ToUtf8Json());

        Assert.Equal(ulong.MaxValue, parsed.SequenceNumber);
        Assert.Equal(TimeSpan.FromSeconds(2), parsed.RefreshHint);
        Assert.Equal(["k\"1\\\n鍵", "rsa"], parsed.JwtAuthorities.Select(a => a.KeyId));
        Assert.Equal(bundle.X509Authorities.Select(c => c.RawData), parsed.X509Authorities.Select(c => c.RawData));
    }
}
