using Anchorage.Server.Attestation;
using Anchorage.Server.Tests.Registration;

namespace Anchorage.Server.Tests.Attestation;

public sealed class NodeServiceTests : RegistrationFixture
{
    private NodeService Nodes => new(Store, Clock, Log);

    private Task<AttestedNode> RecordAsync(string serial = "0A1B") =>
        Nodes.RecordAttestationAsync(AgentId, "join_token", serial, Start.AddHours(1), Selectors("join_token:0123456789abcdef"), None);

    private static async Task<AttestationException> RefusedAsync(Func<Task> action) => await Assert.ThrowsAsync<AttestationException>(action);

    [Fact]
    public async Task Record_New_StoredWithNormalizedSerial()
    {
        var node = await RecordAsync("000A1B");

        Assert.Equal("a1b", node.CertSerial);
        Assert.Equal(Start.AddHours(1), node.CertNotAfter);
        Assert.Equal(Selectors("join_token:0123456789abcdef").ToArray(), node.Selectors.ToArray());
        Assert.Equal(Start, node.CreatedAt);
        Assert.Equal(node.SpiffeId, Assert.Single(await Nodes.ListAsync(None)).SpiffeId);
        Assert.Equal("a1b", (await Nodes.GetAsync(AgentId, None))!.CertSerial);
    }

    [Fact]
    public async Task Authenticate_CurrentSerialAnyCase_Accepted()
    {
        await RecordAsync();

        Assert.Equal("a1b", (await Nodes.AuthenticateAsync(AgentId, "a1b", None)).CertSerial);
        Assert.Equal("a1b", (await Nodes.AuthenticateAsync(AgentId, "00A1B", None)).CertSerial);
    }

    [Fact]
    public async Task Renew_CurrentSerial_NewSerialCurrentOldRefused()
    {
        await RecordAsync();

        var renewed = await Nodes.RenewAsync(AgentId, "a1b", "0C", Start.AddHours(2), None);
        var ex = await RefusedAsync(() => Nodes.RenewAsync(AgentId, "a1b", "0D", Start.AddHours(3), None));

        Assert.Equal("c", renewed.CertSerial);
        Assert.Equal("agent SVID serial a1b is not the current one", ex.Message);
        Assert.Equal(AttestationFailure.StaleSvid, ex.Failure);
        Assert.Equal(Start.AddHours(2), (await Nodes.GetAsync(AgentId, None))!.CertNotAfter);
        Assert.Contains(Log.Lines, l => l.EventId == 3312 && l.Message == $"agent {AgentId} refused: agent SVID serial a1b is not the current one");
    }

    [Fact]
    public async Task Renew_AfterEvict_NotAttested()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);

        Assert.True(await Nodes.EvictAsync(AgentId, None));
        var ex = await RefusedAsync(() => Nodes.RenewAsync(AgentId, "c", "d", Start.AddHours(3), None));

        Assert.Equal($"agent {AgentId} is not attested (evicted or unknown)", ex.Message);
        Assert.Equal(AttestationFailure.NotAttested, ex.Failure);
        Assert.False(await Nodes.EvictAsync(AgentId, None));
    }

    [Fact]
    public async Task Banned_RenewAuthenticateAndReattest_Refused()
    {
        await RecordAsync();
        Assert.True(await Nodes.BanAsync(AgentId, None));

        var renew = await RefusedAsync(() => Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None));
        var again = await RefusedAsync(() => RecordAsync("ff"));

        Assert.Equal($"agent {AgentId} is banned", renew.Message);
        Assert.Equal(AttestationFailure.Banned, renew.Failure);
        Assert.Equal($"agent {AgentId} is banned", again.Message);
        Assert.True((await Nodes.GetAsync(AgentId, None))!.Banned);

        // Eviction lifts the ban: the node may attest again.
        Assert.True(await Nodes.EvictAsync(AgentId, None));
        Assert.Equal("ff", (await RecordAsync("ff")).CertSerial);
    }

    [Fact]
    public async Task Ban_Unknown_False()
    {
        Assert.False(await Nodes.BanAsync(AgentId, None));
    }

    [Fact]
    public async Task Authenticate_SvidExpired_Refused()
    {
        await RecordAsync();
        Clock.Advance(TimeSpan.FromHours(1) - TimeSpan.FromMilliseconds(1));
        await Nodes.AuthenticateAsync(AgentId, "a1b", None);
        Clock.Advance(TimeSpan.FromMilliseconds(1));

        var ex = await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None));

        Assert.Equal($"agent {AgentId} SVID has expired", ex.Message);
        Assert.Equal(AttestationFailure.Expired, ex.Failure);
    }

    [Fact]
    public async Task Record_Again_ReplacesSvidKeepsCreation()
    {
        await RecordAsync();
        Clock.Advance(TimeSpan.FromMinutes(1));

        var again = await RecordAsync("beef");

        Assert.Equal("beef", again.CertSerial);
        Assert.Equal(Start, again.CreatedAt);
        Assert.Equal($"agent SVID serial a1b is not the current one", (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None))).Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("xyz")]
    [InlineData("0x1")]
    public async Task Serial_NotHex_ArgumentException(string serial)
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => RecordAsync(serial));

        Assert.Equal("certificate serial must be hex (Parameter 'certSerial')", ex.Message);
    }
}
