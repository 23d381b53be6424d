using System.Runtime.Versioning;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api;
using Grpc.Core;

namespace Anchorage.Server.Tests.Api;

[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class SigningAdmissionTests
{
    [Fact]
    public async Task BatchNewX509Svid_LimitOneAndASigningInFlight_UnavailableWithRetryAfterThenServed()
    {
        await using var server = await ApiTestServer.StartAsync(new ApiOptions { MaxConcurrentSigning = 1, SigningRetryAfter = TimeSpan.FromMilliseconds(50) });
        var svid = await server.AttestAsync();
        var entry = (await server.Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { AdminApiServiceTests.Entry("/web", svid.Id.Path) } })).Results[0].Entry;
        var request = new BatchNewX509SvidRequest { Params = { new NewX509SvidParams { EntryId = entry.Id, Csr = ApiTestServer.NewCsr() } } };
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Ca.SignGate = () =>
        {
            entered.TrySetResult();
            return release.Task;
        };
        var agent = server.Agent(svid);

        var holder = agent.BatchNewX509SvidAsync(request).ResponseAsync;
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var busy = await Assert.ThrowsAsync<RpcException>(() => agent.BatchNewX509SvidAsync(request).ResponseAsync);
        var busyJwt = await Assert.ThrowsAsync<RpcException>(() => agent.NewJwtSvidAsync(new NewJwtSvidRequest { EntryId = entry.Id, Audience = { "a" } }).ResponseAsync);
        release.SetResult();
        var held = await holder;
        server.Ca.SignGate = null;
        var after = await agent.BatchNewX509SvidAsync(request);

        Assert.Equal(StatusCode.Unavailable, busy.StatusCode);
        var retryAfter = int.Parse(busy.Trailers.GetValue("retry-after-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 50, 100);
        Assert.Equal($"server is busy signing; retry after {retryAfter} ms", busy.Status.Detail);
        Assert.Equal(StatusCode.Unavailable, busyJwt.StatusCode);
        Assert.NotNull(busyJwt.Trailers.GetValue("retry-after-ms"));
        Assert.Equal(0, held.Results[0].ErrorCode);
        Assert.Equal(0, after.Results[0].ErrorCode);
    }

    [Fact]
    public async Task AttestJoinToken_Busy_UnavailableAndTheTokenIsNotConsumed()
    {
        await using var server = await ApiTestServer.StartAsync(new ApiOptions { MaxConcurrentSigning = 1 });
        var token = await server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var other = await server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Ca.SignGate = () =>
        {
            entered.TrySetResult();
            return release.Task;
        };

        var holder = server.RedeemAsync(other.Token);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var busy = await Assert.ThrowsAsync<RpcException>(() => server.RedeemAsync(token.Token));
        release.SetResult();
        await holder;
        server.Ca.SignGate = null;
        var svid = await server.RedeemAsync(token.Token);

        Assert.Equal(StatusCode.Unavailable, busy.StatusCode);
        Assert.StartsWith("server is busy signing; retry after ", busy.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(token.AgentSpiffeId, svid.Id.ToString());
    }
}
