using Anchorage.Server.Attestation;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Server.Tests.Registration;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Attestation;

public sealed class JoinTokenServiceTests : RegistrationFixture
{
    private const string Invalid = "join token is invalid or has expired";

    private JoinTokenService Tokens => new(Store, Entries, Clock, Log.Logger);

    private static string SecretOf(string token) => token[(token.IndexOf('.', StringComparison.Ordinal) + 1)..];

    private static string WithOtherSecret(string token)
    {
        var secret = SecretOf(token).ToCharArray();
        secret[0] = secret[0] == 'A' ? 'B' : 'A';
        return token[..17] + new string(secret);
    }

    [Fact]
    public async Task Generate_Default_TokenFormatExpiryAndOnlyHashStored()
    {
        var grant = await Tokens.GenerateAsync(null, default, None);

        Assert.Matches("^[0-9a-f]{16}\\.[A-Za-z0-9_-]{43}$", grant.Token);
        Assert.Equal(grant.Token[..16], grant.Id);
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/" + grant.Id), grant.AgentId);
        Assert.Equal(Start + TimeSpan.FromMinutes(10), grant.ExpiresAt);
        Assert.DoesNotContain(SecretOf(grant.Token), grant.ToString(), StringComparison.Ordinal);
        var stored = await Store.TakeJoinTokenAsync(grant.Id, None);
        Assert.Equal(
            System.Security.Cryptography.SHA256.HashData(System.Buffers.Text.Base64Url.DecodeFromChars(SecretOf(grant.Token))),
            stored!.SecretHash);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-60)]
    [InlineData(24 * 3600 + 1)]
    public async Task Generate_TtlOutOfRange_Throws(int seconds)
    {
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Tokens.GenerateAsync(TimeSpan.FromSeconds(seconds), default, None));

        Assert.Equal("join token ttl must be between 1 second and 24 hours (Parameter 'ttl')", ex.Message);
        Assert.Equal(Start + TimeSpan.FromHours(24), (await Tokens.GenerateAsync(TimeSpan.FromHours(24), default, None)).ExpiresAt);
        Assert.Equal(Start + TimeSpan.FromSeconds(1), (await Tokens.GenerateAsync(TimeSpan.FromSeconds(1), default, None)).ExpiresAt);
    }

    [Fact]
    public async Task Generate_AliasInvalid_ValidationExceptionNoToken()
    {
        var ex = await Assert.ThrowsAsync<EntryValidationException>(
            () => Tokens.GenerateAsync(null, SpiffeId.Parse("spiffe://other.org/blue"), None));

        Assert.Equal("invalid registration entry: spiffeId: \"spiffe://other.org/blue\": must be in trust domain \"example.org\"", ex.Message);
        Assert.DoesNotContain(Log.Events, l => l.EventId == 3300);
    }

    [Fact]
    public async Task Redeem_Valid_AgentIdOnceOnly()
    {
        var grant = await Tokens.GenerateAsync(null, default, None);

        var redeemed = await Tokens.RedeemAsync(grant.Token, None);
        var again = await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(grant.Token, None));

        Assert.Equal(grant.AgentId, redeemed.AgentId);
        Assert.Equal(grant.Id, redeemed.TokenId);
        Assert.Equal(Selectors("join_token:" + grant.Id).ToArray(), redeemed.Selectors.ToArray());
        Assert.True(redeemed.Alias.IsEmpty);
        Assert.Equal(Invalid, again.Message);
        Assert.Equal(AttestationFailure.InvalidJoinToken, again.Failure);
        Assert.Equal(0, await Entries.CountAsync(None));
    }

    [Fact]
    public async Task Redeem_ConcurrentRedeemers_ExactlyOneWins()
    {
        var grant = await Tokens.GenerateAsync(null, default, None);
        var service = Tokens;

        var attempts = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            try
            {
                return (await service.RedeemAsync(grant.Token, None)).AgentId.ToString();
            }
            catch (AttestationException ex)
            {
                return ex.Message;
            }
        })).ToArray();
        var outcomes = await Task.WhenAll(attempts);

        Assert.Single(outcomes, o => o == grant.AgentId.ToString());
        Assert.Equal(7, outcomes.Count(o => o == Invalid));
    }

    [Fact]
    public async Task Redeem_AtExpiry_RefusedAndConsumed_JustBeforeAccepted()
    {
        var early = await Tokens.GenerateAsync(null, default, None);
        var late = await Tokens.GenerateAsync(null, default, None);

        Clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(early.AgentId, (await Tokens.RedeemAsync(early.Token, None)).AgentId);
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        var ex = await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(late.Token, None));

        Assert.Equal(Invalid, ex.Message);
        Assert.Null(await Store.TakeJoinTokenAsync(late.Id, None));
        Assert.Contains(Log.Events, l => l.EventId == 3305 && l.Message.StartsWith($"join token {late.Id} refused and consumed: expired at", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Redeem_WrongSecretUnknownIdMalformed_SameMessage()
    {
        var grant = await Tokens.GenerateAsync(null, default, None);
        var control = await Tokens.GenerateAsync(null, default, None);
        string[] tokens =
        [
            WithOtherSecret(grant.Token),
            "ffffffffffffffff" + grant.Token[16..],
            string.Empty,
            "not-a-token",
            grant.Token.ToUpperInvariant(),
            grant.Token + "A",
            grant.Token[..16] + ":" + grant.Token[17..],
            grant.Id,
        ];

        var messages = new List<string>();
        foreach (var token in tokens)
        {
            var ex = await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(token, None));
            Assert.Equal(AttestationFailure.InvalidJoinToken, ex.Failure);
            messages.Add(ex.Message);
        }

        Assert.All(messages, m => Assert.Equal(Invalid, m));

        // The wrong secret consumed the token; the log tells the operator which check failed.
        Assert.Equal(Invalid, (await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(grant.Token, None))).Message);
        Assert.Contains(Log.Events, l => l.EventId == 3304 && l.Message == $"join token {grant.Id} refused and consumed: wrong secret");
        Assert.Contains(Log.Events, l => l.EventId == 3303 && l.Message == "join token ffffffffffffffff refused: unknown or already used");
        Assert.Contains(Log.Events, l => l.EventId == 3302);
        Assert.Equal(control.AgentId, (await Tokens.RedeemAsync(control.Token, None)).AgentId);
    }

    [Fact]
    public async Task Redeem_WithAlias_CreatesNodeAliasEntry()
    {
        var alias = SpiffeId.Parse("spiffe://example.org/cluster/blue");
        var grant = await Tokens.GenerateAsync(null, alias, None);

        var redeemed = await Tokens.RedeemAsync(grant.Token, None);

        Assert.Equal(alias, redeemed.Alias);
        var entry = Assert.Single((await Entries.ListAsync(new EntryQuery { ParentIds = [ServerId] }, None)).Entries);
        Assert.Equal(alias, entry.SpiffeId);
        Assert.Equal(ServerId, entry.ParentId);
        Assert.Equal(Selectors("join_token:" + grant.Id).ToArray(), entry.Selectors.ToArray());
    }

    [Fact]
    public async Task Redeem_NodeBanned_RefusedAndConsumed_UnbannedControlAccepted()
    {
        var banned = await Tokens.GenerateAsync(null, default, None);
        var fine = await Tokens.GenerateAsync(null, default, None);
        var nodes = new NodeService(Store, Clock, Log.Logger);
        await nodes.RecordAttestationAsync(banned.AgentId, "join_token", "01", Start.AddHours(1), Selectors("join_token:" + banned.Id), None);
        await nodes.RecordAttestationAsync(fine.AgentId, "join_token", "02", Start.AddHours(1), Selectors("join_token:" + fine.Id), None);
        Assert.True(await nodes.BanAsync(banned.AgentId, None));

        var ex = await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(banned.Token, None));

        Assert.Equal($"node {banned.AgentId} is banned", ex.Message);
        Assert.Equal(AttestationFailure.Banned, ex.Failure);
        Assert.Null(await Store.TakeJoinTokenAsync(banned.Id, None));
        Assert.Equal(fine.AgentId, (await Tokens.RedeemAsync(fine.Token, None)).AgentId);
    }

    [Fact]
    public async Task Secret_NeverInLogsOrExceptions()
    {
        var seen = new List<string>();
        var grants = new List<JoinTokenGrant>();
        for (var i = 0; i < 5; i++)
        {
            grants.Add(await Tokens.GenerateAsync(null, i == 0 ? SpiffeId.Parse("spiffe://example.org/a") : default, None));
        }

        seen.Add(grants[0].ToString());
        await Tokens.RedeemAsync(grants[0].Token, None);
        foreach (var attempt in new[] { grants[0].Token, WithOtherSecret(grants[1].Token), grants[2].Token + "x", grants[3].Token[..20] })
        {
            seen.Add((await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(attempt, None))).ToString());
        }

        Clock.Advance(TimeSpan.FromHours(1));
        seen.Add((await Assert.ThrowsAsync<AttestationException>(() => Tokens.RedeemAsync(grants[4].Token, None))).ToString());
        seen.AddRange(Log.Events.Select(l => l.Message));

        Assert.True(Log.Events.Count >= 10);
        foreach (var grant in grants)
        {
            var secret = SecretOf(grant.Token);
            Assert.All(seen, text => Assert.DoesNotContain(secret[..12], text, StringComparison.Ordinal));
            Assert.All(seen, text => Assert.DoesNotContain(SecretOf(WithOtherSecret(grant.Token))[..12], text, StringComparison.Ordinal));
        }
    }
}
