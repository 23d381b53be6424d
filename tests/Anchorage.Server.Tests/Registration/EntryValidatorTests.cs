using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Registration;

public sealed class EntryValidatorTests
{
    private static readonly TrustDomain Td = RegistrationFixture.Td;
    private static readonly EntryValidator Validator = new(Td);

    // 4 labels of 63: 255 characters, each label valid.
    private static readonly string LongName = string.Join('.', Enumerable.Repeat(new string('a', 63), 4));

    private static RegistrationEntry Valid() => RegistrationFixture.Entry();

    private static RegistrationEntry Alias() => RegistrationFixture.Entry("/group/blue", RegistrationFixture.ServerId, "join_token:0123456789abcdef");

    [Fact]
    public void Validate_ValidWorkloadAndAliasEntries_NoProblems()
    {
        Assert.Empty(Validator.Validate(Valid()));
        Assert.Empty(Validator.Validate(Alias()));
        var full = Valid() with
        {
            Id = "my-entry_1.a",
            X509SvidTtl = EntryValidatorOptions.DefaultMaxX509SvidTtl,
            JwtSvidTtl = EntryValidatorOptions.DefaultMaxJwtSvidTtl,
            FederatesWith = [TrustDomain.Parse("a.org"), TrustDomain.Parse("b.org")],
            DnsNames = ["web.example.org", "*.svc.example.org", "1password.example", new string('a', 63) + ".org"],
            Hint = new string('é', EntryValidator.MaxHintLength),
        };
        Assert.Empty(Validator.Validate(full));
    }

    public static TheoryData<string, string?> WorkloadSelectors => new()
    {
        { "unix:uid:0", null },
        { "unix:uid:1000", null },
        { "unix:uid:4294967294", null },
        { "unix:uid:abc", "uid must be a non-negative integer" },
        { "unix:uid:-1", "uid must be a non-negative integer" },
        { "unix:uid:+1", "uid must be a non-negative integer" },
        { "unix:uid:007", "uid must be written without leading zeros" },
        { "unix:uid:4294967295", "uid must be at most 4294967294" },
        { "unix:uid:99999999999999999999999", "uid must be at most 4294967294" },
        { "unix:gid:12", null },
        { "unix:gid:x", "gid must be a non-negative integer" },
        { "unix:supplementary_gid:5", null },
        { "unix:supplementary_gid:", "supplementary_gid must be a non-negative integer" },
        { "unix:user:www-data", null },
        { "unix:user:-rf", "user must be a name of 1-256 characters without ':' or '/', not starting with '-'" },
        { "unix:user:a/b", "user must be a name of 1-256 characters without ':' or '/', not starting with '-'" },
        { "unix:group:staff", null },
        { "unix:group:a:b", "group must be a name of 1-256 characters without ':' or '/', not starting with '-'" },
        { "unix:supplementary_group:docker", null },
        { "unix:path:/usr/bin/python3", null },
        { "unix:path:usr/bin/python3", "path must be absolute (start with '/')" },
        { "unix:path:/usr//bin", "path must be normalized: no empty, '.' or '..' segments and no trailing '/'" },
        { "unix:path:/usr/bin/", "path must be normalized: no empty, '.' or '..' segments and no trailing '/'" },
        { "unix:path:/usr/../bin/sh", "path must be normalized: no empty, '.' or '..' segments and no trailing '/'" },
        { "unix:path:/./sh", "path must be normalized: no empty, '.' or '..' segments and no trailing '/'" },
        { "unix:sha256:" + new string('a', 32) + new string('0', 32), null },
        { "unix:sha256:" + new string('A', 64), "sha256 must be 64 lowercase hex characters" },
        { "unix:sha256:" + new string('a', 63), "sha256 must be 64 lowercase hex characters" },
        { "unix:sha256:" + new string('g', 64), "sha256 must be 64 lowercase hex characters" },
        { "unix:pid:1", "unknown unix selector key \"pid\"; known keys: uid, user, gid, group, supplementary_gid, supplementary_group, path, sha256" },
        { "unix:uid", "unix selector must be unix:<key>:<value>, e.g. unix:uid:1000" },
        { "k8s:ns:default", "unknown selector type \"k8s\"; known types: join_token, unix" },
        { "Unix:uid:1", "unknown selector type \"Unix\"; known types: join_token, unix" },
        { "join_token:0123456789abcdef", "join_token is a node selector; only node-alias entries (parent spiffe://example.org/anchorage/server) take it" },
    };

    [Theory]
    [MemberData(nameof(WorkloadSelectors))]
    public void Validate_WorkloadEntrySelector_ExactProblemOrNone(string selector, string? expected)
    {
        var problems = Validator.Validate(Valid() with { Selectors = [Selector.Parse(selector)] });

        if (expected is null)
        {
            Assert.Empty(problems);
        }
        else
        {
            Assert.Equal([$"selectors[0]: \"{selector}\": {expected}"], problems);
        }
    }

    public static TheoryData<string, string?> NodeSelectors => new()
    {
        { "join_token:0123456789abcdef", null },
        { "join_token:0123456789ABCDEF", "join_token id must be 16 lowercase hex characters" },
        { "join_token:0123456789abcde", "join_token id must be 16 lowercase hex characters" },
        { "unix:uid:1000", "unix is a workload selector; node-alias entries (parent spiffe://example.org/anchorage/server) take node selectors" },
        { "aws_iid:account:1", "unknown selector type \"aws_iid\"; known types: join_token, unix" },
    };

    [Theory]
    [MemberData(nameof(NodeSelectors))]
    public void Validate_NodeAliasEntrySelector_ExactProblemOrNone(string selector, string? expected)
    {
        var problems = Validator.Validate(Alias() with { Selectors = [Selector.Parse(selector)] });

        if (expected is null)
        {
            Assert.Empty(problems);
        }
        else
        {
            Assert.Equal([$"selectors[0]: \"{selector}\": {expected}"], problems);
        }
    }

    [Fact]
    public void Validate_SelectorBuiltWithoutParse_WhitespaceAndColonInTypeRefused()
    {
        Assert.Equal(
            ["selectors[0]: \"unix:uid: 1\": must not contain whitespace or control characters"],
            Validator.Validate(Valid() with { Selectors = [new Selector("unix", "uid: 1")] }));
        Assert.Equal(
            ["selectors[0]: \"unix:uid:1\": selector type must not contain ':'"],
            Validator.Validate(Valid() with { Selectors = [new Selector("unix:uid", "1")] }));
        Assert.Equal(
            ["selectors[0]: \"unix:\": must be type:value, e.g. unix:uid:1000"],
            Validator.Validate(Valid() with { Selectors = [new Selector("unix", string.Empty)] }));
        Assert.Empty(Validator.Validate(Valid() with { Selectors = [new Selector("unix", "uid:1")] }));
    }

    public static TheoryData<string, string> EntryCases => new()
    {
        { "id-bad", "id: \"bad id!\": must be 1-255 letters, digits, '.', '-' or '_'" },
        { "id-long", "id: \"" + new string('a', 80) + "...\": must be 1-255 letters, digits, '.', '-' or '_'" },
        { "spiffe-empty", "spiffeId: is required" },
        { "spiffe-foreign", "spiffeId: \"spiffe://other.org/web\": must be in trust domain \"example.org\"" },
        { "spiffe-no-path", "spiffeId: \"spiffe://example.org\": must have a path" },
        { "spiffe-reserved", "spiffeId: \"spiffe://example.org/anchorage/agent/x\": paths under /anchorage/ are reserved for the server and its agents" },
        { "parent-empty", "parentId: is required" },
        { "parent-foreign", "parentId: \"spiffe://other.org/agent\": must be in trust domain \"example.org\"" },
        { "parent-no-path", "parentId: \"spiffe://example.org\": must have a path" },
        { "same-ids", "spiffeId: must differ from parentId" },
        { "no-selectors", "selectors: at least one selector is required" },
        { "default-selectors", "selectors: at least one selector is required" },
        { "duplicate-selector", "selectors[2]: \"unix:uid:1000\": duplicate of selectors[0]" },
        { "x509-zero", "x509SvidTtl: must be positive" },
        { "x509-negative", "x509SvidTtl: must be positive" },
        { "x509-over", "x509SvidTtl: 86401s is more than the maximum 86400s" },
        { "jwt-over", "jwtSvidTtl: 3600.5s is more than the maximum 3600s" },
        { "jwt-zero", "jwtSvidTtl: must be positive" },
        { "federates-own", "federatesWith[0]: \"example.org\": is the entry's own trust domain" },
        { "federates-duplicate", "federatesWith[1]: \"a.org\": duplicate of federatesWith[0]" },
        { "federates-empty", "federatesWith[0]: is empty" },
        { "dns-empty", "dnsNames[0]: is empty" },
        { "dns-underscore", "dnsNames[0]: \"a_b.example.org\": label \"a_b\" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen" },
        { "dns-hyphen", "dnsNames[0]: \"-a.example.org\": label \"-a\" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen" },
        { "dns-trailing-dot", "dnsNames[0]: \"example.org.\": label \"\" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen" },
        { "dns-long-label", "dnsNames[0]: \"" + new string('a', 64) + ".org\": label \"" + new string('a', 64) + "\" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen" },
        { "dns-long-name", "dnsNames[0]: \"" + LongName[..80] + "...\": is longer than 253 characters" },
        { "dns-wildcard-middle", "dnsNames[0]: \"a.*.example.org\": '*' is allowed only as the whole leftmost label (\"*.\")" },
        { "dns-wildcard-partial", "dnsNames[0]: \"w*.example.org\": '*' is allowed only as the whole leftmost label (\"*.\")" },
        { "dns-wildcard-tld", "dnsNames[0]: \"*.org\": a wildcard must cover a name of at least two labels, e.g. *.example.org" },
        { "dns-ip", "dnsNames[0]: \"10.0.0.1\": is an IP address, not a DNS name" },
        { "dns-duplicate", "dnsNames[1]: \"WEB.example.org\": duplicate of dnsNames[0]" },
        { "hint-long", "hint: is longer than 1024 characters" },
        { "hint-control", "hint: must be printable text (no control, format, private-use or unassigned characters)" },
        { "hint-bidi", "hint: must be printable text (no control, format, private-use or unassigned characters)" },
        { "hint-lone-surrogate", "hint: must be printable text (no control, format, private-use or unassigned characters)" },
    };

    private static RegistrationEntry Mutate(string name, RegistrationEntry e) => name switch
    {
        "id-bad" => e with { Id = "bad id!" },
        "id-long" => e with { Id = new string('a', 256) },
        "spiffe-empty" => e with { SpiffeId = default },
        "spiffe-foreign" => e with { SpiffeId = SpiffeId.Parse("spiffe://other.org/web") },
        "spiffe-no-path" => e with { SpiffeId = Td.Id },
        "spiffe-reserved" => e with { SpiffeId = SpiffeId.Parse("spiffe://example.org/anchorage/agent/x") },
        "parent-empty" => e with { ParentId = default },
        "parent-foreign" => e with { ParentId = SpiffeId.Parse("spiffe://other.org/agent") },
        "parent-no-path" => e with { ParentId = Td.Id },
        "same-ids" => e with { ParentId = e.SpiffeId },
        "no-selectors" => e with { Selectors = [] },
        "default-selectors" => e with { Selectors = default },
        "duplicate-selector" => e with { Selectors = RegistrationFixture.Selectors("unix:uid:1000", "unix:gid:0", "unix:uid:1000") },
        "x509-zero" => e with { X509SvidTtl = TimeSpan.Zero },
        "x509-negative" => e with { X509SvidTtl = TimeSpan.FromSeconds(-1) },
        "x509-over" => e with { X509SvidTtl = TimeSpan.FromSeconds(86401) },
        "jwt-over" => e with { JwtSvidTtl = TimeSpan.FromSeconds(3600.5) },
        "jwt-zero" => e with { JwtSvidTtl = TimeSpan.Zero },
        "federates-own" => e with { FederatesWith = [Td] },
        "federates-duplicate" => e with { FederatesWith = [TrustDomain.Parse("a.org"), TrustDomain.Parse("a.org")] },
        "federates-empty" => e with { FederatesWith = [default] },
        "dns-empty" => e with { DnsNames = [string.Empty] },
        "dns-underscore" => e with { DnsNames = ["a_b.example.org"] },
        "dns-hyphen" => e with { DnsNames = ["-a.example.org"] },
        "dns-trailing-dot" => e with { DnsNames = ["example.org."] },
        "dns-long-label" => e with { DnsNames = [new string('a', 64) + ".org"] },
        "dns-long-name" => e with { DnsNames = [LongName] },
        "dns-wildcard-middle" => e with { DnsNames = ["a.*.example.org"] },
        "dns-wildcard-partial" => e with { DnsNames = ["w*.example.org"] },
        "dns-wildcard-tld" => e with { DnsNames = ["*.org"] },
        "dns-ip" => e with { DnsNames = ["10.0.0.1"] },
        "dns-duplicate" => e with { DnsNames = ["web.example.org", "WEB.example.org"] },
        "hint-long" => e with { Hint = new string('h', 1025) },
        "hint-control" => e with { Hint = "a\nb" },
        "hint-bidi" => e with { Hint = "abc\u202Edef" },
        "hint-lone-surrogate" => e with { Hint = "a\uD800b" },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(EntryCases))]
    public void Validate_OneDefect_ExactlyThatProblem(string defect, string expected)
    {
        Assert.Empty(Validator.Validate(Valid()));

        Assert.Equal([expected], Validator.Validate(Mutate(defect, Valid())));
    }

    [Fact]
    public void Validate_ManyDefects_EveryProblemInFieldOrder()
    {
        var entry = Valid() with
        {
            SpiffeId = SpiffeId.Parse("spiffe://other.org/web"),
            Selectors = RegistrationFixture.Selectors("unix:uid:1000", "unix:uid:abc", "k8s:ns:x"),
            X509SvidTtl = TimeSpan.Zero,
            FederatesWith = [Td],
            DnsNames = ["ok.example.org", "bad_name"],
            Hint = "\u0007",
        };

        var ex = Assert.Throws<EntryValidationException>(() => Validator.ThrowIfInvalid(entry));

        string[] expected =
        [
            "spiffeId: \"spiffe://other.org/web\": must be in trust domain \"example.org\"",
            "selectors[1]: \"unix:uid:abc\": uid must be a non-negative integer",
            "selectors[2]: \"k8s:ns:x\": unknown selector type \"k8s\"; known types: join_token, unix",
            "x509SvidTtl: must be positive",
            "federatesWith[0]: \"example.org\": is the entry's own trust domain",
            "dnsNames[1]: \"bad_name\": label \"bad_name\" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen",
            "hint: must be printable text (no control, format, private-use or unassigned characters)",
        ];
        Assert.Equal(expected, ex.Problems);
        Assert.Equal("invalid registration entry: " + string.Join("; ", expected), ex.Message);
    }

    [Fact]
    public void Validate_ConfiguredMaxima_Applied()
    {
        var validator = new EntryValidator(Td, new EntryValidatorOptions { MaxX509SvidTtl = TimeSpan.FromHours(1), MaxJwtSvidTtl = TimeSpan.FromMinutes(5) });

        Assert.Equal(
            ["x509SvidTtl: 3660s is more than the maximum 3600s", "jwtSvidTtl: 301s is more than the maximum 300s"],
            validator.Validate(Valid() with { X509SvidTtl = TimeSpan.FromSeconds(3660), JwtSvidTtl = TimeSpan.FromSeconds(301) }));
        Assert.Empty(validator.Validate(Valid() with { X509SvidTtl = TimeSpan.FromHours(1), JwtSvidTtl = TimeSpan.FromMinutes(5) }));
    }

    [Fact]
    public void Validate_ExtraSelectorType_AcceptedWithItsOwnRule()
    {
        var k8s = new SelectorType("k8s", SelectorKind.Workload, v => v.StartsWith("ns:", StringComparison.Ordinal) ? null : "k8s selector must be ns:<name>");
        var validator = new EntryValidator(Td, new EntryValidatorOptions { SelectorTypes = [.. SelectorType.BuiltIn, k8s] });

        Assert.Empty(validator.Validate(Valid() with { Selectors = RegistrationFixture.Selectors("k8s:ns:default", "unix:uid:1") }));
        Assert.Equal(
            ["selectors[0]: \"k8s:pod:x\": k8s selector must be ns:<name>"],
            validator.Validate(Valid() with { Selectors = RegistrationFixture.Selectors("k8s:pod:x") }));
        Assert.Equal(
            ["selectors[0]: \"nope:x\": unknown selector type \"nope\"; known types: join_token, k8s, unix"],
            validator.Validate(Valid() with { Selectors = RegistrationFixture.Selectors("nope:x") }));
    }

    [Fact]
    public void Constructor_DuplicateSelectorType_Throws()
    {
        var options = new EntryValidatorOptions { SelectorTypes = [SelectorType.Unix, SelectorType.Unix] };

        var ex = Assert.Throws<ArgumentException>(() => new EntryValidator(Td, options));

        Assert.StartsWith("selector type \"unix\" is listed twice", ex.Message);
        Assert.NotNull(new EntryValidator(Td, new EntryValidatorOptions { SelectorTypes = ImmutableArray.Create(SelectorType.Unix) }));
    }
}
