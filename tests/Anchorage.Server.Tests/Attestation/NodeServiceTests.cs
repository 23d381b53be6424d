using Anchorage.Server.Attestation;
using Anchorage.Server.Tests.Registration;

namespace Anchorage.Server.Tests.Attestation;

public sealed class NodeServiceTests : RegistrationFixture
{
    private NodeService Nodes => new(Store, Clock, Log.Logger);

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

    private const string StaleA1b = "agent SVID serial a1b is not the current one";

    [Fact]
    public async Task Renew_CurrentSerial_NewSerialPendingCurrentUnchanged()
    {
        await RecordAsync();

        var renewed = await Nodes.RenewAsync(AgentId, "a1b", "0C", Start.AddHours(2), None);

        Assert.Equal("a1b", renewed.CertSerial);
        Assert.Equal(Start.AddHours(1), renewed.CertNotAfter);
        Assert.Equal("c", renewed.PendingCertSerial);
        Assert.Equal(Start.AddHours(2), renewed.PendingCertNotAfter);
        var stored = (await Nodes.GetAsync(AgentId, None))!;
        Assert.Equal(("a1b", "c", Start.AddHours(2)), (stored.CertSerial, stored.PendingCertSerial, stored.PendingCertNotAfter));
        Assert.Contains(Log.Events, l => l.EventId == 3311 && l.Message == $"agent {AgentId} renewed, SVID serial c until {Start.AddHours(2):O}");
    }

    [Fact]
    public async Task Renew_AnswerLostOldSerialKeptInUse_StillAccepted()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);

        // The agent never got "c": it goes on with its previous SVID, for calls and for the next renewal.
        var node = await Nodes.AuthenticateAsync(AgentId, "a1b", None);
        var again = await Nodes.AuthenticateAsync(AgentId, "A1B", None);

        Assert.Equal(("a1b", "c"), (node.CertSerial, node.PendingCertSerial));
        Assert.Equal(("a1b", "c"), (again.CertSerial, again.PendingCertSerial));
        Assert.Equal("d", (await Nodes.RenewAsync(AgentId, "a1b", "d", Start.AddHours(3), None)).PendingCertSerial);
    }

    [Fact]
    public async Task Authenticate_PendingSerialUsed_PromotedAndOldRefused()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "0C", Start.AddHours(2), None);
        Assert.Equal("a1b", (await Nodes.AuthenticateAsync(AgentId, "a1b", None)).CertSerial); // positive control

        var promoted = await Nodes.AuthenticateAsync(AgentId, "c", None);
        var old = await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None));
        var oldRenew = await RefusedAsync(() => Nodes.RenewAsync(AgentId, "a1b", "e", Start.AddHours(3), None));

        Assert.Equal(("c", Start.AddHours(2), (string?)null, (DateTimeOffset?)null), (promoted.CertSerial, promoted.CertNotAfter, promoted.PendingCertSerial, promoted.PendingCertNotAfter));
        var stored = (await Nodes.GetAsync(AgentId, None))!;
        Assert.Equal(("c", Start.AddHours(2), (string?)null, (DateTimeOffset?)null), (stored.CertSerial, stored.CertNotAfter, stored.PendingCertSerial, stored.PendingCertNotAfter));
        Assert.Equal(StaleA1b, old.Message);
        Assert.Equal(AttestationFailure.StaleSvid, old.Failure);
        Assert.Equal(StaleA1b, oldRenew.Message);
        Assert.Equal("c", (await Nodes.AuthenticateAsync(AgentId, "c", None)).CertSerial);
        Assert.Single(Log.Events, l => l.EventId == 3315);
        Assert.Contains(Log.Events, l => l.EventId == 3312 && l.Message == $"agent {AgentId} refused: {StaleA1b}");
    }

    [Fact]
    public async Task Renew_WithPendingSerial_PromotesThenNewPending()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);

        var renewed = await Nodes.RenewAsync(AgentId, "c", "d", Start.AddHours(3), None);

        Assert.Equal(("c", "d"), (renewed.CertSerial, renewed.PendingCertSerial));
        Assert.Equal(StaleA1b, (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None))).Message);
        Assert.Equal("c", (await Nodes.AuthenticateAsync(AgentId, "c", None)).CertSerial);
        Assert.Equal("d", (await Nodes.AuthenticateAsync(AgentId, "d", None)).CertSerial);
    }

    [Fact]
    public async Task Renew_TwiceWithOldSerial_OnlyLatestPendingAccepted()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);
        Assert.Equal("c", (await Nodes.GetAsync(AgentId, None))!.PendingCertSerial); // "c" was pending (positive control)

        await Nodes.RenewAsync(AgentId, "a1b", "d", Start.AddHours(3), None);
        var first = await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "c", None));

        Assert.Equal("agent SVID serial c is not the current one", first.Message);
        Assert.Equal(AttestationFailure.StaleSvid, first.Failure);
        Assert.Equal("a1b", (await Nodes.AuthenticateAsync(AgentId, "a1b", None)).CertSerial);
        var latest = await Nodes.AuthenticateAsync(AgentId, "d", None);
        Assert.Equal(("d", Start.AddHours(3)), (latest.CertSerial, latest.CertNotAfter));
        Assert.Equal("agent SVID serial c is not the current one", (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "c", None))).Message);
        Assert.Equal(StaleA1b, (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None))).Message);
    }

    [Fact]
    public async Task Authenticate_PendingSerialExpired_RefusedAndNotPromoted()
    {
        await RecordAsync(); // current SVID until Start + 1h
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddMinutes(30), None);
        Clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromMilliseconds(1));
        await Nodes.AuthenticateAsync(AgentId, "a1b", None);
        Assert.Equal("c", (await Nodes.GetAsync(AgentId, None))!.PendingCertSerial);
        Clock.Advance(TimeSpan.FromMilliseconds(1));

        var ex = await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "c", None));

        Assert.Equal($"agent {AgentId} SVID has expired", ex.Message);
        Assert.Equal(AttestationFailure.Expired, ex.Failure);
        Assert.Equal(("a1b", "c"), ((await Nodes.GetAsync(AgentId, None))!.CertSerial, (await Nodes.GetAsync(AgentId, None))!.PendingCertSerial));
        Assert.Equal("a1b", (await Nodes.AuthenticateAsync(AgentId, "a1b", None)).CertSerial); // the unexpired current one still works
    }

    [Fact]
    public async Task Authenticate_PendingSerialBeforeExpiry_Accepted()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddMinutes(30), None);
        Clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromMilliseconds(1));

        Assert.Equal("c", (await Nodes.AuthenticateAsync(AgentId, "c", None)).CertSerial);
    }

    [Fact]
    public async Task Authenticate_OldSerialExpiredWhilePendingValid_RefusedAsExpired()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);
        Clock.Advance(TimeSpan.FromHours(1));

        var ex = await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None));

        Assert.Equal($"agent {AgentId} SVID has expired", ex.Message);
        Assert.Equal("c", (await Nodes.AuthenticateAsync(AgentId, "c", None)).CertSerial);
    }

    [Fact]
    public async Task Ban_WithPendingSerial_BothRefused()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);
        Assert.True(await Nodes.BanAsync(AgentId, None));

        Assert.Equal($"agent {AgentId} is banned", (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "a1b", None))).Message);
        Assert.Equal($"agent {AgentId} is banned", (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "c", None))).Message);
        Assert.True((await Nodes.GetAsync(AgentId, None))!.Banned);
    }

    [Fact]
    public async Task Record_AgainWithPendingSerial_PendingCleared()
    {
        await RecordAsync();
        await Nodes.RenewAsync(AgentId, "a1b", "c", Start.AddHours(2), None);

        var again = await RecordAsync("beef");

        Assert.Null(again.PendingCertSerial);
        Assert.Equal("agent SVID serial c is not the current one", (await RefusedAsync(() => Nodes.AuthenticateAsync(AgentId, "c", None))).Message);
        Assert.Equal("beef", (await Nodes.AuthenticateAsync(AgentId, "beef", None)).CertSerial);
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
