using System.Net.Sockets;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api;
using Grpc.Core;

namespace Anchorage.Server.Tests.Api;

/// <summary>Bounds a peer cannot talk its way past before authenticating: connections per peer, message size.</summary>
public sealed class AgentApiLimitsTests
{
    [Fact]
    public async Task Connect_PeerHoldsTheCap_NextConnectionRefusedUntilOneCloses()
    {
        await using var server = await ApiTestServer.StartAsync(maxConnectionsPerPeer: 3);
        var svid = await server.AttestAsync(); // its channel keeps one connection open
        await server.Agent(svid).GetBundlesAsync(new GetBundlesRequest()); // and this one a second
        using var held = new TcpClient();
        await held.ConnectAsync(server.Host.AgentApiEndpoint); // the third: the cap

        // A fourth connection from the same address is closed by the server before TLS: the call fails.
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Agent(svid).GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);

        // Positive control: once the held connection closes, the same call on a new connection is served.
        held.Close();
        GetBundlesResponse? served = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (served is null && DateTime.UtcNow < deadline)
        {
            try
            {
                served = await server.Agent(svid).GetBundlesAsync(new GetBundlesRequest());
            }
            catch (RpcException)
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.NotNull(served);
        Assert.Contains(server.Log.Events, e => e.EventId == 1011);
    }

    [Fact]
    public async Task AttestJoinToken_MessageOverTheCap_ResourceExhaustedBeforeAnyWork()
    {
        await using var server = await ApiTestServer.StartAsync(new ApiOptions { MaxAgentMessageBytes = 64 * 1024 });
        var big = new AttestJoinTokenRequest { Token = "t", Csr = Google.Protobuf.ByteString.CopyFrom(new byte[65 * 1024]) };
        var small = new AttestJoinTokenRequest { Token = "t", Csr = Google.Protobuf.ByteString.CopyFrom(new byte[63 * 1024]) };

        var tooBig = await Assert.ThrowsAsync<RpcException>(() => server.Agent().AttestJoinTokenAsync(big).ResponseAsync);
        var judged = await Assert.ThrowsAsync<RpcException>(() => server.Agent().AttestJoinTokenAsync(small).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, tooBig.StatusCode);
        Assert.Equal((StatusCode.InvalidArgument, "csr is larger than 16384 bytes"), (judged.StatusCode, judged.Status.Detail));
    }
}
