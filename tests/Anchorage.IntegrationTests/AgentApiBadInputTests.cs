using System.Runtime.Versioning;
using System.Security.Cryptography;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Google.Protobuf;
using Grpc.Core;

namespace Anchorage.IntegrationTests;

/// <summary>Bad input through the agent API of a server composed as in production.</summary>
[SupportedOSPlatform("linux")]
public sealed class AgentApiBadInputTests : IAsyncLifetime
{
    private static readonly ByteString NotDer = ByteString.CopyFrom(0x30, 0x03, 0x01);

    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AttestJoinToken_MalformedCsr_InvalidArgumentThenTheSameTokenAttests()
    {
        var token = await _server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var anonymous = _server.Agent(null, _server.Server.Ca);

        var e = await Assert.ThrowsAsync<RpcException>(() =>
            anonymous.AttestJoinTokenAsync(new AttestJoinTokenRequest { Token = token.Token, Csr = NotDer }).ResponseAsync);
        var ok = await anonymous.AttestJoinTokenAsync(new AttestJoinTokenRequest { Token = token.Token, Csr = TestServer.NewCsr() });

        Assert.Equal((StatusCode.InvalidArgument, "csr is not valid DER"), (e.StatusCode, e.Status.Detail));
        Assert.Equal(token.AgentSpiffeId, ok.Svid.SpiffeId);
    }

    [Fact]
    public async Task RenewAgent_MalformedCsr_InvalidArgumentThenAValidCsrRenews()
    {
        var (agent, _) = await AttestAsync();

        var e = await Assert.ThrowsAsync<RpcException>(() => agent.RenewAgentAsync(new RenewAgentRequest { Csr = NotDer }).ResponseAsync);
        var ok = await agent.RenewAgentAsync(new RenewAgentRequest { Csr = TestServer.NewCsr() });

        Assert.Equal((StatusCode.InvalidArgument, "csr is not valid DER"), (e.StatusCode, e.Status.Detail));
        Assert.NotEmpty(ok.Svid.CertChain);
    }

    [Fact]
    public async Task AgentCalls_UnknownAgentId_PermissionDeniedWhileAnAttestedAgentIsServed()
    {
        var (attested, _) = await AttestAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        const string unknownId = "spiffe://acme.corp/anchorage/agent/join_token/never-issued";
        // Signed by the CA itself: the admin API refuses to mint IDs under /anchorage/ (reserved), so
        // this is the SVID of an agent the CA signed but that no attestation ever recorded.
        var signed = await _server.Server.Ca.SignX509SvidAsync(SpiffeId.Parse(unknownId), TestServer.Csr(key).Memory, [], null, CancellationToken.None);
        var unknown = _server.Agent(new X509Svid([.. signed.Chain.Select(c => X509CertificateLoader.LoadCertificate(c))], key), _server.Server.Ca);

        var e = await Assert.ThrowsAsync<RpcException>(() => unknown.GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);
        var ok = await attested.GetBundlesAsync(new GetBundlesRequest());

        Assert.Equal((StatusCode.PermissionDenied, $"agent {unknownId} is not attested (evicted or unknown)"), (e.StatusCode, e.Status.Detail));
        Assert.Equal("acme.corp", ok.Own.TrustDomain);
    }

    [Fact]
    public async Task AgentCalls_BannedAgent_PermissionDeniedForEveryCall()
    {
        var (agent, svid) = await AttestAsync();
        await agent.GetBundlesAsync(new GetBundlesRequest());

        await _server.Admin.BanAgentAsync(new BanAgentRequest { SpiffeId = svid.Id.ToString() });
        var bundles = await Assert.ThrowsAsync<RpcException>(() => agent.GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);
        var renew = await Assert.ThrowsAsync<RpcException>(() => agent.RenewAgentAsync(new RenewAgentRequest { Csr = TestServer.NewCsr() }).ResponseAsync);
        var batch = await Assert.ThrowsAsync<RpcException>(() => agent.BatchNewX509SvidAsync(new BatchNewX509SvidRequest()).ResponseAsync);

        var expected = (StatusCode.PermissionDenied, $"agent {svid.Id} is banned");
        Assert.Equal(expected, (bundles.StatusCode, bundles.Status.Detail));
        Assert.Equal(expected, (renew.StatusCode, renew.Status.Detail));
        Assert.Equal(expected, (batch.StatusCode, batch.Status.Detail));
    }

    [Fact]
    public async Task BatchNewX509Svid_AuthorizedUnauthorizedUnknownAndBadCsr_OnlyTheBadOnesFail()
    {
        var (agent, svid) = await AttestAsync();
        var mine = await CreateEntryAsync("/web", svid.Id.ToString());
        var mineToo = await CreateEntryAsync("/db", svid.Id.ToString());
        var others = await CreateEntryAsync("/other", "spiffe://acme.corp/some/other/agent");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await agent.BatchNewX509SvidAsync(new BatchNewX509SvidRequest
        {
            Params =
            {
                new NewX509SvidParams { EntryId = mine, Csr = TestServer.Csr(key) },
                new NewX509SvidParams { EntryId = others, Csr = TestServer.NewCsr() },
                new NewX509SvidParams { EntryId = "no-such-entry", Csr = TestServer.NewCsr() },
                new NewX509SvidParams { EntryId = mineToo, Csr = NotDer },
            },
        });

        Assert.Equal([mine, others, "no-such-entry", mineToo], response.Results.Select(r => r.EntryId));
        var ok = response.Results[0];
        Assert.Equal((0, ""), (ok.ErrorCode, ok.Error));
        var issued = TestServer.ToSvid(ok.Svid, key);
        var bundle = (await _server.BundleAsync()).ToX509Bundle();
        Assert.Equal("spiffe://acme.corp/web", new X509SvidVerifier().Verify(issued.Certificates, bundle).Id.ToString());
        Assert.All(response.Results.Skip(1), r => Assert.Null(r.Svid));
        Assert.Equal(((int)StatusCode.NotFound, "entry not found or not authorized"), (response.Results[1].ErrorCode, response.Results[1].Error));
        Assert.Equal(((int)StatusCode.NotFound, "entry not found or not authorized"), (response.Results[2].ErrorCode, response.Results[2].Error));
        Assert.Equal(((int)StatusCode.InvalidArgument, "csr is not valid DER"), (response.Results[3].ErrorCode, response.Results[3].Error));
    }

    private async Task<(AgentApi.AgentApiClient Client, X509Svid Svid)> AttestAsync()
    {
        var token = await _server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await _server.Agent(null, _server.Server.Ca).AttestJoinTokenAsync(new AttestJoinTokenRequest { Token = token.Token, Csr = TestServer.Csr(key) });
        var svid = TestServer.ToSvid(response.Svid, key);
        return (_server.Agent(svid, _server.Server.Ca), svid);
    }

    private async Task<string> CreateEntryAsync(string path, string parent)
    {
        var created = await _server.Admin.CreateEntriesAsync(new CreateEntriesRequest
        {
            Entries =
            {
                new Protos.Common.V1.Entry
                {
                    SpiffeId = "spiffe://acme.corp" + path,
                    ParentId = parent,
                    Selectors = { new Protos.Common.V1.Selector { Type = "unix", Value = "uid:1000" } },
                },
            },
        });
        var result = Assert.Single(created.Results);
        Assert.True(result.ErrorCode == 0, result.Error);
        return result.Entry.Id;
    }
}
