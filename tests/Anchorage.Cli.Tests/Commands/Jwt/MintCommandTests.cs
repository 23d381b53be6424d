using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Tests.Commands.Jwt;

public sealed class MintCommandTests : AdminTestBase
{
    [Fact]
    public async Task Mint_Flags_MapToTheRequestAndPrintTheToken()
    {
        Api.On("MintJwtSvid", (MintJwtSvidRequest _) => new MintJwtSvidResponse { Token = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", ExpiresAt = 1_763_800_000 });

        var result = await RunAsync("jwt", "mint", "--spiffe-id", "spiffe://acme.corp/web", "--audience", "payments", "--audience", "billing", "--ttl", "5m");

        Assert.Equal((0, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln\n", string.Empty), (result.ExitCode, result.Out, result.Error));
        var request = Api.Only<MintJwtSvidRequest>("MintJwtSvid");
        Assert.Equal(("spiffe://acme.corp/web", 300L), (request.SpiffeId, request.TtlSeconds));
        Assert.Equal(["payments", "billing"], request.Audience);
    }

    [Fact]
    public async Task Mint_NoAudience_ExitsTwoAndSendsNothing()
    {
        var result = await RunAsync("jwt", "mint", "--spiffe-id", "spiffe://acme.corp/web");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: Option '--audience' is required.", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Mint_BadSpiffeId_ExitsTwoAndSendsNothing()
    {
        var result = await RunAsync("jwt", "mint", "--spiffe-id", "spiffe://acme.corp/a/../b", "--audience", "payments");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --spiffe-id \"spiffe://acme.corp/a/../b\": ", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);
    }
}
