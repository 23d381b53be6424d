using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Commands.Authority;

public sealed class AuthorityCommandTests : AdminTestBase
{
    private static Protos.Admin.V1.Authority Of(string kind, string id, string state, bool tainted = false) => new()
    {
        Kind = kind,
        Id = id,
        ServerId = "server-a",
        State = state,
        Tainted = tainted,
        NotBefore = 1_763_700_000,
        NotAfter = 1_763_800_000,
    };

    public static TheoryData<string, string, string> Verbs => new()
    {
        { "x509", "prepare", "PrepareAuthority" },
        { "x509", "activate", "ActivateAuthority" },
        { "x509", "taint", "TaintAuthority" },
        { "x509", "revoke", "RevokeAuthority" },
        { "jwt", "prepare", "PrepareAuthority" },
        { "jwt", "activate", "ActivateAuthority" },
        { "jwt", "taint", "TaintAuthority" },
        { "jwt", "revoke", "RevokeAuthority" },
    };

    [Theory]
    [MemberData(nameof(Verbs))]
    public async Task Verb_NoId_SendsKindAndEmptyIdAndShowsTheAuthority(string kind, string verb, string method)
    {
        Api.On(method, (AuthorityRequest r) => Of(r.Kind, "a2", "active"));

        var result = await RunAsync("authority", kind, verb);

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var request = Api.Only<AuthorityRequest>(method);
        Assert.Equal((kind, string.Empty), (request.Kind, request.Id));
        Assert.Contains(result.Out.Split('\n'), l => l.Contains("a2", StringComparison.Ordinal) && l.Contains("active", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("activate", "ActivateAuthority")]
    [InlineData("taint", "TaintAuthority")]
    [InlineData("revoke", "RevokeAuthority")]
    public async Task Verb_Id_SendsIt(string verb, string method)
    {
        Api.On(method, (AuthorityRequest r) => Of(r.Kind, r.Id, "old", tainted: true));

        var result = await RunAsync("authority", "x509", verb, "--id", "a1", "--output", "json");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("a1", Api.Only<AuthorityRequest>(method).Id);
        using var json = JsonDocument.Parse(result.Out);
        var authority = Assert.Single(json.RootElement.GetProperty("authorities").EnumerateArray().ToArray());
        Assert.True(authority.GetProperty("tainted").GetBoolean());
    }

    [Fact]
    public async Task Prepare_Id_IsNotAnOption()
    {
        var result = await RunAsync("authority", "x509", "prepare", "--id", "a1");

        Assert.Equal(2, result.ExitCode);
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Taint_NothingOld_ExitsOneWithTheServersWords()
    {
        Api.Fail("TaintAuthority", StatusCode.FailedPrecondition, "there is no old x509 authority to taint");

        var result = await RunAsync("authority", "x509", "taint");

        Assert.Equal((1, "error: there is no old x509 authority to taint\n"), (result.ExitCode, result.Error));
    }

    [Fact]
    public async Task Show_Table_ListsEveryAuthorityOfTheKind()
    {
        Api.On("ListAuthorities", (ListAuthoritiesRequest r) => new ListAuthoritiesResponse { Authorities = { Of(r.Kind, "j1", "old", tainted: true), Of(r.Kind, "j2", "active") } });

        var result = await RunAsync("authority", "jwt", "show");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("jwt", Api.Only<ListAuthoritiesRequest>("ListAuthorities").Kind);
        var lines = result.Out.Split('\n');
        Assert.Contains(lines, l => l.Contains("NOT AFTER", StringComparison.Ordinal) && l.Contains("SERVER ID", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("j1", StringComparison.Ordinal) && l.Contains("old", StringComparison.Ordinal) && l.Contains("yes", StringComparison.Ordinal) && l.Contains("2025-11-22T08:26:40Z", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("j2", StringComparison.Ordinal) && l.Contains("active", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Show_Id_ShowsOnlyThatAuthority()
    {
        Api.On("ListAuthorities", (ListAuthoritiesRequest r) => new ListAuthoritiesResponse { Authorities = { Of(r.Kind, "x1", "old"), Of(r.Kind, "x2", "active") } });

        var result = await RunAsync("authority", "x509", "show", "--id", "x2", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal("x2", Assert.Single(json.RootElement.GetProperty("authorities").EnumerateArray().ToArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Show_UnknownId_ExitsOne()
    {
        Api.On("ListAuthorities", (ListAuthoritiesRequest r) => new ListAuthoritiesResponse { Authorities = { Of(r.Kind, "x1", "active") } });

        var result = await RunAsync("authority", "x509", "show", "--id", "x9");

        Assert.Equal((1, "rejected: no x509 authority has id \"x9\"\n"), (result.ExitCode, result.Error));
    }
}
