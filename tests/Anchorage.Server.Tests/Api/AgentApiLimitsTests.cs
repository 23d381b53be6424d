using System.Net.Security;
using System.Net.Sockets;
using Anchorage.Protos.Agent.V1;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api;
using Anchorage.Server.Api.Internal;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Tests.Api;

/// <summary>Bounds a peer cannot talk its way past before authenticating: connections per peer, message size.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
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

        // connect() returns once the kernel queued the connection; the server counts it later, and a
        // CI run saw the fourth counted first. The cap is checked before TLS, so a finished TLS
        // handshake (no client certificate: the attestation path takes none) proves it was counted.
        await using var heldTls = new SslStream(held.GetStream());
        await heldTls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null, // the handshake, not the server's identity, is what counts here
        });

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

    [Fact]
    public async Task BatchNewX509Svid_FiveCsrs_OneAdmissionSlotPerSignature()
    {
        var admission = new SigningAdmission(new ApiOptions(), NullLoggerFactory.Instance);
        await using var server = await ApiTestServer.StartAsync(configure: services => services.AddSingleton(admission));
        var svid = await server.AttestAsync();
        var created = await server.Admin.CreateEntriesAsync(new CreateEntriesRequest
        {
            Entries = { Enumerable.Range(0, 5).Select(i => AdminApiServiceTests.Entry($"/w{i}", svid.Id.Path)) },
        });
        var request = new BatchNewX509SvidRequest();
        request.Params.Add(created.Results.Select(r => new NewX509SvidParams { EntryId = r.Entry.Id, Csr = ApiTestServer.NewCsr() }));
        var before = admission.Admitted;

        var response = await server.Agent(svid).BatchNewX509SvidAsync(request);

        // Five signatures took five slots (one each), not one for the call.
        Assert.All(response.Results, r => Assert.Equal(0, r.ErrorCode));
        Assert.Equal(5, admission.Admitted - before);

        // Positive control on the same counter: a batch with no authorized entry signs nothing and takes no slot.
        var unknown = new BatchNewX509SvidRequest { Params = { new NewX509SvidParams { EntryId = "no-such-entry", Csr = ApiTestServer.NewCsr() } } };
        var refused = await server.Agent(svid).BatchNewX509SvidAsync(unknown);
        Assert.NotEqual(0, refused.Results[0].ErrorCode);
        Assert.Equal(5, admission.Admitted - before);
    }

    [Fact]
    public async Task BatchNewX509Svid_OverTheDefaultCapOf50_InvalidArgumentAndFiftySigned()
    {
        await using var server = await ApiTestServer.StartAsync();
        var svid = await server.AttestAsync();
        var entry = (await server.Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { AdminApiServiceTests.Entry("/web", svid.Id.Path) } })).Results[0].Entry;
        NewX509SvidParams Param() => new() { EntryId = entry.Id, Csr = ApiTestServer.NewCsr() };
        var tooMany = new BatchNewX509SvidRequest { Params = { Enumerable.Range(0, 51).Select(_ => Param()) } };
        var fifty = new BatchNewX509SvidRequest { Params = { Enumerable.Range(0, 50).Select(_ => Param()) } };

        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Agent(svid).BatchNewX509SvidAsync(tooMany).ResponseAsync);
        var signed = await server.Agent(svid).BatchNewX509SvidAsync(fifty);

        Assert.Equal((StatusCode.InvalidArgument, "at most 50 svids may be asked for in one call"), (refused.StatusCode, refused.Status.Detail));
        Assert.Equal(50, signed.Results.Count(r => r.ErrorCode == 0));
    }
}
