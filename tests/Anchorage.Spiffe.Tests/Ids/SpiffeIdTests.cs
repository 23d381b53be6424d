using Anchorage.Spiffe.Ids;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Anchorage.Spiffe.Tests.Ids;

public class SpiffeIdTests
{
    private const string Scheme = "scheme must be \"spiffe\" followed by \"://\"";
    private const string PathCharset = "only letters, digits, '.', '-' and '_' are allowed in a segment";
    private const string TdCharset = "only lowercase letters, digits, '.', '-' and '_' are allowed";

    public static TheoryData<string, string, string> ValidIds => new()
    {
        { "spiffe://acme.corp", "acme.corp", "" },
        { "spiffe://acme.corp/a", "acme.corp", "/a" },
        { "spiffe://acme.corp/ns/prod/sa/api", "acme.corp", "/ns/prod/sa/api" },
        { "spiffe://acme.corp/UPPER/Case", "acme.corp", "/UPPER/Case" },
        { "spiffe://acme.corp/a-b_c.d/0", "acme.corp", "/a-b_c.d/0" },
        { "spiffe://acme.corp/.../.a/a.", "acme.corp", "/.../.a/a." },
        { "spiffe://a/b", "a", "/b" },
        { "spiffe://1.2.3.4/x", "1.2.3.4", "/x" },
    };

    [Theory]
    [MemberData(nameof(ValidIds))]
    [Trait("Spec", "SPIFFE-ID 2")]
    [Trait("Spec", "SPIFFE-ID 2.2")]
    public void Parse_ValidId_SplitsTrustDomainAndPath(string input, string trustDomain, string path)
    {
        var id = SpiffeId.Parse(input);

        Assert.Equal(input, id.ToString());
        Assert.Equal(trustDomain, id.TrustDomain.Name);
        Assert.Equal(path, id.Path);
        Assert.False(id.IsEmpty);
        Assert.Equal(id, SpiffeId.FromPath(TrustDomain.Parse(trustDomain), path));
        Assert.True(id.MemberOf(TrustDomain.Parse(trustDomain)));
    }

    public static TheoryData<string, string> InvalidIds => new()
    {
        // §2: scheme.
        { string.Empty, "spiffe id is empty" },
        { "acme.corp/x", Scheme },
        { "http://acme.corp/x", Scheme },
        { "SPIFFE://acme.corp/x", Scheme },
        { "Spiffe://acme.corp/x", Scheme },
        { "spiffe:/acme.corp/x", Scheme },
        { "spiffe:acme.corp", Scheme },
        { " spiffe://acme.corp/x", Scheme },

        // §2: query and fragment.
        { "spiffe://acme.corp/x?y=1", "spiffe id cannot contain a query" },
        { "spiffe://acme.corp?y", "spiffe id cannot contain a query" },
        { "spiffe://acme.corp/x#frag", "spiffe id cannot contain a fragment" },
        { "spiffe://acme.corp/#", "spiffe id cannot contain a fragment" },

        // §2.1: trust domain.
        { "spiffe://", "trust domain is missing" },
        { "spiffe:///x", "trust domain is missing" },
        { "spiffe://Acme.corp/x", "trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase" },
        { "spiffe://acme.corp:8080/x", "trust domain cannot contain a port" },
        { "spiffe://acme.corp:/x", "trust domain cannot contain a port" },
        { "spiffe://user@acme.corp/x", "trust domain cannot contain userinfo" },
        { "spiffe://user:pw@acme.corp/x", "trust domain cannot contain a port" },
        { "spiffe://acme%2Ecorp/x", "percent-encoding is not allowed" },
        { "spiffe://acme corp/x", $"trust domain contains ' '; {TdCharset}" },
        { "spiffe://[::1]/x", $"trust domain contains '['; {TdCharset}" },
        { "spiffe://acme\\corp/x", $"trust domain contains '\\'; {TdCharset}" },

        // §2.2: path.
        { "spiffe://acme.corp/", "path cannot have a trailing slash" },
        { "spiffe://acme.corp/x/", "path cannot have a trailing slash" },
        { "spiffe://acme.corp//x", "path cannot contain empty segments" },
        { "spiffe://acme.corp/x//y", "path cannot contain empty segments" },
        { "spiffe://acme.corp/.", "path cannot contain dot segments ('.' or '..')" },
        { "spiffe://acme.corp/..", "path cannot contain dot segments ('.' or '..')" },
        { "spiffe://acme.corp/x/./y", "path cannot contain dot segments ('.' or '..')" },
        { "spiffe://acme.corp/x/../y", "path cannot contain dot segments ('.' or '..')" },
        { "spiffe://acme.corp/a%20b", "percent-encoding is not allowed" },
        { "spiffe://acme.corp/%2F", "percent-encoding is not allowed" },
        { "spiffe://acme.corp/a b", $"path contains ' '; {PathCharset}" },
        { "spiffe://acme.corp/a:b", $"path contains ':'; {PathCharset}" },
        { "spiffe://acme.corp/a@b", $"path contains '@'; {PathCharset}" },
        { "spiffe://acme.corp/a+b", $"path contains '+'; {PathCharset}" },
        { "spiffe://acme.corp/a\\b", $"path contains '\\'; {PathCharset}" },
        { "spiffe://acme.corp/a~b", $"path contains '~'; {PathCharset}" },
    };

    [Theory]
    [MemberData(nameof(InvalidIds))]
    [Trait("Spec", "SPIFFE-ID 2")]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    [Trait("Spec", "SPIFFE-ID 2.2")]
    public void Parse_InvalidId_ThrowsWithRule(string input, string reason)
    {
        var ex = Assert.Throws<FormatException>(() => SpiffeId.Parse(input));

        Assert.Equal($"invalid SPIFFE ID \"{input}\": {reason}", ex.Message);
        Assert.False(SpiffeId.TryParse(input, out var id));
        Assert.True(id.IsEmpty);
        Assert.False(SpiffeId.TryParse(input.AsSpan(), out _, out var error));
        Assert.Equal(reason, error);
    }

    /// <summary>Positive controls: each invalid row with its defect removed parses.</summary>
    public static TheoryData<string> RepairedIds => new()
    {
        "spiffe://acme.corp/x",
        "spiffe://acme.corp",
        "spiffe://acme.corp/x/y",
        "spiffe://acme.corp/x/y/z",
        "spiffe://acme.corp/a20b",
        "spiffe://acme.corp/a_b",
        "spiffe://acme.corp/a-b",
        "spiffe://acme.corp/a.b",
        "spiffe://acme.corp/...",
    };

    [Theory]
    [MemberData(nameof(RepairedIds))]
    public void Parse_RepairedId_Parses(string input)
    {
        Assert.True(SpiffeId.TryParse(input, out var id));
        Assert.Equal(input, id.ToString());
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.3")]
    public void Parse_LengthBoundary_2048AcceptedAnd2049Rejected()
    {
        // "spiffe://" + "acme.corp" = 18; path segments of 99 plus '/' reach the limit exactly.
        var path = string.Concat(Enumerable.Repeat("/" + new string('p', 99), 20)) + "/" + new string('q', 29);
        var exact = "spiffe://acme.corp" + path;
        var over = exact + "q";
        Assert.Equal(SpiffeId.MaxLength, exact.Length);

        Assert.Equal(exact, SpiffeId.Parse(exact).ToString());
        var ex = Assert.Throws<FormatException>(() => SpiffeId.Parse(over));
        Assert.Equal($"invalid SPIFFE ID \"{over[..80]}...\": spiffe id is longer than 2048 bytes", ex.Message);
        Assert.Equal(exact, SpiffeId.FromPath(TrustDomain.Parse("acme.corp"), path).ToString());
        var fromPath = Assert.Throws<FormatException>(() => SpiffeId.FromPath(TrustDomain.Parse("acme.corp"), path + "q"));
        Assert.Equal("spiffe id is longer than 2048 bytes", fromPath.Message);
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.3")]
    public void Parse_TrustDomainLengthBoundary_255AcceptedAnd256Rejected()
    {
        var td = new string('t', 255);

        Assert.Equal(td, SpiffeId.Parse($"spiffe://{td}/x").TrustDomain.Name);
        var ex = Assert.Throws<FormatException>(() => SpiffeId.Parse($"spiffe://{td}t/x"));
        Assert.EndsWith("\": trust domain is longer than 255 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.2")]
    public void Parse_NonAscii_NamesCodePointAndMasksIt()
    {
        Assert.True(SpiffeId.TryParse("spiffe://acme.corp/cafe", out _));

        var path = Assert.Throws<FormatException>(() => SpiffeId.Parse("spiffe://acme.corp/café"));
        var td = Assert.Throws<FormatException>(() => SpiffeId.Parse("spiffe://acmé.corp/x"));
        var nul = Assert.Throws<FormatException>(() => SpiffeId.Parse("spiffe://acme.corp/a\0b"));
        var emoji = Assert.Throws<FormatException>(() => SpiffeId.Parse("spiffe://acme.corp/😀"));

        Assert.Equal($"invalid SPIFFE ID \"spiffe://acme.corp/caf?\": path contains U+00E9; {PathCharset}", path.Message);
        Assert.Equal($"invalid SPIFFE ID \"spiffe://acm?.corp/x\": trust domain contains U+00E9; {TdCharset}", td.Message);
        Assert.Equal($"invalid SPIFFE ID \"spiffe://acme.corp/a?b\": path contains U+0000; {PathCharset}", nul.Message);
        Assert.Equal($"invalid SPIFFE ID \"spiffe://acme.corp/??\": path contains U+D83D; {PathCharset}", emoji.Message);
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => SpiffeId.Parse(null!));
        Assert.Throws<ArgumentNullException>(() => SpiffeId.Parse(null!, null));
        Assert.False(SpiffeId.TryParse((string?)null, out _));
        Assert.False(SpiffeId.TryParse((string?)null, null, out _));
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.2")]
    public void FromPath_InvalidPath_Throws()
    {
        var td = TrustDomain.Parse("acme.corp");
        Assert.Equal("spiffe://acme.corp/a/b", SpiffeId.FromPath(td, "/a/b").ToString());
        Assert.Equal("spiffe://acme.corp", SpiffeId.FromPath(td, string.Empty).ToString());

        Assert.Equal("invalid path \"a/b\": path must start with '/'", Assert.Throws<FormatException>(() => SpiffeId.FromPath(td, "a/b")).Message);
        Assert.Equal("invalid path \"/a/\": path cannot have a trailing slash", Assert.Throws<FormatException>(() => SpiffeId.FromPath(td, "/a/")).Message);
        Assert.Equal("invalid path \"/a/../b\": path cannot contain dot segments ('.' or '..')", Assert.Throws<FormatException>(() => SpiffeId.FromPath(td, "/a/../b")).Message);
        Assert.Equal("invalid path \"/a?b\": path contains '?'; " + PathCharset, Assert.Throws<FormatException>(() => SpiffeId.FromPath(td, "/a?b")).Message);
        Assert.Equal("trust domain is empty (Parameter 'trustDomain')", Assert.Throws<ArgumentException>(() => SpiffeId.FromPath(default, "/a")).Message);
        Assert.Throws<ArgumentNullException>(() => SpiffeId.FromPath(td, null!));
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.2")]
    public void FromSegments_BuildsPathAndRejectsBadSegments()
    {
        var td = TrustDomain.Parse("acme.corp");

        Assert.Equal("spiffe://acme.corp/ns/prod", SpiffeId.FromSegments(td, "ns", "prod").ToString());
        Assert.Equal("spiffe://acme.corp", SpiffeId.FromSegments(td).ToString());
        Assert.Equal("invalid path segment \"a/b\": a segment cannot contain '/'", Assert.Throws<FormatException>(() => SpiffeId.FromSegments(td, "a/b")).Message);
        Assert.Equal("invalid path \"/ns/..\": path cannot contain dot segments ('.' or '..')", Assert.Throws<FormatException>(() => SpiffeId.FromSegments(td, "ns", "..")).Message);
        Assert.Throws<FormatException>(() => SpiffeId.FromSegments(td, "ns", string.Empty));
        Assert.Throws<FormatException>(() => SpiffeId.FromSegments(td, "a%41"));
    }

    [Fact]
    public void Default_IsEmpty()
    {
        var id = default(SpiffeId);

        Assert.True(id.IsEmpty);
        Assert.Equal(string.Empty, id.ToString());
        Assert.Equal(string.Empty, id.Path);
        Assert.True(id.TrustDomain.IsEmpty);
        Assert.False(id.MemberOf(default));
        Assert.False(id.MemberOf(TrustDomain.Parse("a")));
        Assert.NotEqual(SpiffeId.Parse("spiffe://a"), id);
    }

    [Fact]
    [Trait("Spec", "SPIFFE-ID 2.1")]
    public void MemberOf_ComparesWholeTrustDomain()
    {
        var id = SpiffeId.Parse("spiffe://acme.corp/x");

        Assert.True(id.MemberOf(TrustDomain.Parse("acme.corp")));
        Assert.False(id.MemberOf(TrustDomain.Parse("corp")));
        Assert.False(id.MemberOf(TrustDomain.Parse("acme.corp.evil")));
        Assert.False(SpiffeId.Parse("spiffe://acme.corpx/x").MemberOf(TrustDomain.Parse("acme.corp")));
    }

    [Fact]
    public void Equality_IsOrdinalOnWholeString()
    {
        var a = SpiffeId.Parse("spiffe://acme.corp/a");

        Assert.Equal(a, SpiffeId.Parse("spiffe://acme.corp/a"));
        Assert.Equal(a.GetHashCode(), SpiffeId.Parse("spiffe://acme.corp/a").GetHashCode());
        Assert.NotEqual(a, SpiffeId.Parse("spiffe://acme.corp/A"));
        Assert.True(a != SpiffeId.Parse("spiffe://acme.corp/b"));
        Assert.True(a < SpiffeId.Parse("spiffe://acme.corp/b"));
        Assert.True(SpiffeId.Parse("spiffe://acme.corp/b") >= a);
        Assert.True(default(SpiffeId) < a);
        Assert.False(a.Equals((object)"spiffe://acme.corp/a"));
    }

    // ---- Properties ----

    private static readonly char[] TdChars = "abcdefghijklmnopqrstuvwxyz0123456789.-_".ToCharArray();
    private static readonly char[] PathChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_".ToCharArray();

    private static Gen<string> TrustDomainGen =>
        Gen.Choose(1, 40).SelectMany(n => Gen.Elements(TdChars).ArrayOf(n)).Select(c => new string(c));

    private static Gen<string> SegmentGen =>
        Gen.Choose(1, 20).SelectMany(n => Gen.Elements(PathChars).ArrayOf(n)).Select(c => new string(c))
            .Where(s => s is not ("." or ".."));

    private static Gen<(string Td, string Path)> ValidIdGen =>
        from td in TrustDomainGen
        from count in Gen.Choose(0, 8)
        from segments in SegmentGen.ArrayOf(count)
        select (td, string.Concat(segments.Select(s => "/" + s)));

    [Property(MaxTest = 300)]
    [Trait("Spec", "SPIFFE-ID 2")]
    public Property Parse_GeneratedValidId_RoundTrips() => Prop.ForAll(ValidIdGen.ToArbitrary(), p =>
    {
        var text = "spiffe://" + p.Td + p.Path;
        var id = SpiffeId.Parse(text);
        return id.ToString() == text
            && id.TrustDomain.Name == p.Td
            && id.Path == p.Path
            && SpiffeId.Parse(id.ToString()) == id
            && SpiffeId.FromPath(TrustDomain.Parse(p.Td), p.Path) == id;
    });

    /// <summary>Arbitrary text, text after the scheme, and valid IDs with one character inserted.</summary>
    private static Gen<string> HostileGen =>
        Gen.OneOf(
            ArbMap.Default.GeneratorFor<NonNull<string>>().Select(s => s.Get),
            ArbMap.Default.GeneratorFor<NonNull<string>>().Select(s => "spiffe://" + s.Get),
            from p in ValidIdGen
            from c in ArbMap.Default.GeneratorFor<char>()
            from at in Gen.Choose(0, 1000)
            let text = "spiffe://" + p.Td + p.Path
            select text.Insert(at % (text.Length + 1), c.ToString()));

    [Property(MaxTest = 1000)]
    public Property Parse_ArbitraryString_OnlyFormatExceptionAndAgreesWithTryParse() => Prop.ForAll(HostileGen.ToArbitrary(), input =>
    {
        var ok = SpiffeId.TryParse(input, out var tried);
        try
        {
            var parsed = SpiffeId.Parse(input);
            return ok && parsed == tried && parsed.ToString() == input;
        }
        catch (FormatException ex)
        {
            return !ok && ex.Message.StartsWith("invalid SPIFFE ID \"", StringComparison.Ordinal);
        }
    });
}
