using Anchorage.Spiffe.Ids;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Anchorage.Spiffe.Tests.Ids;

public class TrustDomainTests
{
    private const string Lowercase = "trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase";
    private const string Charset = "only lowercase letters, digits, '.', '-' and '_' are allowed";

    public static TheoryData<string> ValidNames => new()
    {
        "acme.corp",
        "a",
        "0",
        "a-b_c.d",
        "xn--bcher-kva.example",
        "example.org.",
        "...",
        "_",
        "192.168.0.1",
        new string('a', 255),
    };

    [Theory]
    [MemberData(nameof(ValidNames))]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void Parse_ValidName_KeepsNameVerbatim(string name)
    {
        var td = TrustDomain.Parse(name);

        Assert.Equal(name, td.Name);
        Assert.Equal(name, td.ToString());
        Assert.Equal("spiffe://" + name, td.IdString);
        Assert.False(td.IsEmpty);
        Assert.True(TrustDomain.TryParse(name, out var again));
        Assert.Equal(td, again);
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void Parse_SpiffeIdWithoutPath_GivesSameTrustDomain(string name)
    {
        Assert.Equal(TrustDomain.Parse(name), TrustDomain.Parse("spiffe://" + name));
    }

    public static TheoryData<string, string> InvalidNames => new()
    {
        // §2.1: charset, case, port, userinfo.
        { string.Empty, "trust domain is missing" },
        { "Acme.corp", Lowercase },
        { "acme.CORP", Lowercase },
        { "acme.corp:8080", "trust domain cannot contain a port" },
        { "user@acme.corp", "trust domain cannot contain userinfo" },
        { "acme%2ecorp", "percent-encoding is not allowed" },
        { "acme corp", $"trust domain contains ' '; {Charset}" },
        { "acme.corp/path", $"trust domain contains '/'; {Charset}" },
        { "acme.corp?x", $"trust domain contains '?'; {Charset}" },
        { "[::1]", $"trust domain contains '['; {Charset}" },
        { "acme+corp", $"trust domain contains '+'; {Charset}" },
        { "https://acme.corp", "scheme must be \"spiffe\"" },
        { "SPIFFE://acme.corp", "scheme must be \"spiffe\"" },

        // As a SPIFFE ID: the rules of §2 apply, and no path is allowed.
        { "spiffe://", "trust domain is missing" },
        { "spiffe://acme.corp/path", "a trust domain cannot have a path" },
        { "spiffe://acme.corp/", "path cannot have a trailing slash" },
        { "spiffe://acme.corp?x=1", "spiffe id cannot contain a query" },
        { "spiffe://acme.corp#f", "spiffe id cannot contain a fragment" },
        { "spiffe://Acme.corp", Lowercase },
        { "spiffe://acme.corp:443", "trust domain cannot contain a port" },
    };

    [Theory]
    [MemberData(nameof(InvalidNames))]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void Parse_InvalidName_ThrowsWithRule(string input, string reason)
    {
        var ex = Assert.Throws<FormatException>(() => TrustDomain.Parse(input));

        Assert.Equal($"invalid trust domain \"{input}\": {reason}", ex.Message);
        Assert.False(TrustDomain.TryParse(input, out var td));
        Assert.True(td.IsEmpty);
        Assert.False(TrustDomain.TryParse(input.AsSpan(), out _, out var error));
        Assert.Equal(reason, error);
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void Parse_Uppercase_RejectedNotFolded()
    {
        // Positive control: the same name in lowercase is fine.
        Assert.Equal("acme.corp", TrustDomain.Parse("acme.corp").Name);

        var ex = Assert.Throws<FormatException>(() => TrustDomain.Parse("ACME.CORP"));

        Assert.Equal($"invalid trust domain \"ACME.CORP\": {Lowercase}", ex.Message);
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.3")]
    public void Parse_LengthBoundary_255AcceptedAnd256Rejected()
    {
        var max = new string('a', 250) + ".corp";
        var over = "a" + max;

        Assert.Equal(255, TrustDomain.Parse(max).Name.Length);
        Assert.Equal(255, TrustDomain.Parse("spiffe://" + max).Name.Length);
        var ex = Assert.Throws<FormatException>(() => TrustDomain.Parse(over));
        Assert.Equal($"invalid trust domain \"{over[..80]}...\": trust domain is longer than 255 bytes", ex.Message);
        Assert.False(TrustDomain.TryParse("spiffe://" + over, out _));
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void Parse_NonAscii_NamesCodePointAndMasksIt()
    {
        Assert.True(TrustDomain.TryParse("acme.example", out _));

        var ex = Assert.Throws<FormatException>(() => TrustDomain.Parse("acmé.example"));
        var control = Assert.Throws<FormatException>(() => TrustDomain.Parse("acme\n.example"));
        var fullwidth = Assert.Throws<FormatException>(() => TrustDomain.Parse("ａcme.example"));

        Assert.Equal($"invalid trust domain \"acm?.example\": trust domain contains U+00E9; {Charset}", ex.Message);
        Assert.Equal($"invalid trust domain \"acme?.example\": trust domain contains U+000A; {Charset}", control.Message);
        Assert.Equal($"invalid trust domain \"?cme.example\": trust domain contains U+FF41; {Charset}", fullwidth.Message);
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => TrustDomain.Parse(null!));
        Assert.Throws<ArgumentNullException>(() => TrustDomain.Parse(null!, null));
        Assert.False(TrustDomain.TryParse((string?)null, out _));
        Assert.False(TrustDomain.TryParse((string?)null, null, out _));
    }

    [Fact]
    public void Default_IsEmpty()
    {
        var td = default(TrustDomain);

        Assert.True(td.IsEmpty);
        Assert.Equal(string.Empty, td.Name);
        Assert.Equal(string.Empty, td.ToString());
        Assert.NotEqual(TrustDomain.Parse("a"), td);
        Assert.False(td.Contains(SpiffeId.Parse("spiffe://a/x")));
        Assert.Throws<ArgumentException>(() => td.Id);
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void Contains_OnlyIdsOfThisTrustDomain()
    {
        var td = TrustDomain.Parse("acme.corp");

        Assert.True(td.Contains(SpiffeId.Parse("spiffe://acme.corp/x")));
        Assert.True(td.Contains(SpiffeId.Parse("spiffe://acme.corp")));
        Assert.False(td.Contains(SpiffeId.Parse("spiffe://acme.corp.evil/x")));
        Assert.False(td.Contains(SpiffeId.Parse("spiffe://evil.acme.corp/x")));
        Assert.False(td.Contains(SpiffeId.Parse("spiffe://acme.cor/x")));
        Assert.False(td.Contains(default));
    }

    [Fact]
    public void Id_IsTheTrustDomainSpiffeId()
    {
        var td = TrustDomain.Parse("acme.corp");

        Assert.Equal(SpiffeId.Parse("spiffe://acme.corp"), td.Id);
        Assert.Equal(string.Empty, td.Id.Path);
    }

    [Fact]
    public void Equality_IsOrdinalAndOrderedByName()
    {
        var a = TrustDomain.Parse("a.corp");
        var b = TrustDomain.Parse("b.corp");

        Assert.Equal(a, TrustDomain.Parse("spiffe://a.corp"));
        Assert.Equal(a.GetHashCode(), TrustDomain.Parse("a.corp").GetHashCode());
        Assert.True(a != b);
        Assert.True(a < b && b > a && a <= TrustDomain.Parse("a.corp") && a >= TrustDomain.Parse("a.corp"));
        Assert.True(default(TrustDomain) < a);
        Assert.False(a.Equals((object)"a.corp"));
    }

    private static Gen<string> NameGen =>
        Gen.Elements("abcdefghijklmnopqrstuvwxyz0123456789.-_".ToCharArray())
            .ArrayOf()
            .Where(c => c.Length is > 0 and <= TrustDomain.MaxLength)
            .Select(c => new string(c));

    [Property]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public Property Parse_GeneratedValidName_RoundTrips() => Prop.ForAll(NameGen.ToArbitrary(), name =>
        TrustDomain.Parse(name).Name == name
        && TrustDomain.Parse(TrustDomain.Parse(name).IdString).Name == name
        && SpiffeId.Parse(TrustDomain.Parse(name).IdString).TrustDomain == TrustDomain.Parse(name));

    [Property(MaxTest = 500)]
    public Property Parse_ArbitraryString_OnlyFormatException() => Prop.ForAll(
        Gen.OneOf(
            ArbMap.Default.GeneratorFor<NonNull<string>>().Select(s => s.Get),
            ArbMap.Default.GeneratorFor<NonNull<string>>().Select(s => "spiffe://" + s.Get),
            Gen.Zip(NameGen, ArbMap.Default.GeneratorFor<char>()).Select(p => p.Item1 + p.Item2))
        .ToArbitrary(),
        input =>
        {
            var ok = TrustDomain.TryParse(input, out var td);
            try
            {
                var parsed = TrustDomain.Parse(input);
                return ok && parsed == td;
            }
            catch (FormatException)
            {
                return !ok;
            }
        });
}
