using Anchorage.Server.WebConsole;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.WebConsole;

/// <summary>The console's one-time login tokens and bounded sessions (issue 16).</summary>
public sealed class ConsoleSessionsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Exchange_FreshToken_StartsSessionOnce()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        var (token, expiresAt) = sessions.CreateLoginToken();

        var first = sessions.Exchange(token);
        var second = sessions.Exchange(token);

        Assert.Equal(_time.GetUtcNow() + ConsoleSessions.LoginTokenTtl, expiresAt);
        Assert.NotNull(first);
        Assert.True(sessions.IsValid(first.Value.Session));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromHours(1), first.Value.ExpiresAt);
        Assert.Null(second);
    }

    [Fact]
    public void Exchange_TokenAtItsExpiry_RefusedJustBeforeAccepted()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        var (late, _) = sessions.CreateLoginToken();
        var (early, _) = sessions.CreateLoginToken();

        _time.Advance(ConsoleSessions.LoginTokenTtl - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(sessions.Exchange(early));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(sessions.Exchange(late));
    }

    [Fact]
    public void Exchange_ExpiredToken_RefusedAndNewTokenStillWorks()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        var (token, _) = sessions.CreateLoginToken();
        _time.Advance(TimeSpan.FromMinutes(2));

        Assert.Null(sessions.Exchange(token));
        Assert.NotNull(sessions.Exchange(sessions.CreateLoginToken().Token));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-a-token")]
    public void Exchange_UnknownToken_Refused(string? token)
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        sessions.CreateLoginToken();

        Assert.Null(sessions.Exchange(token));
    }

    [Fact]
    public void Exchange_SessionSecretAsToken_Refused()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        var session = sessions.Exchange(sessions.CreateLoginToken().Token)!.Value.Session;
        var (token, _) = sessions.CreateLoginToken();

        Assert.Null(sessions.Exchange(session));
        Assert.False(sessions.IsValid(token));
        Assert.NotNull(sessions.Exchange(token));
    }

    [Fact]
    public void IsValid_SessionPastItsTtl_Expired()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromMinutes(30), _time);
        var session = sessions.Exchange(sessions.CreateLoginToken().Token)!.Value.Session;

        _time.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromSeconds(1));
        Assert.True(sessions.IsValid(session));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(sessions.IsValid(session));
        Assert.False(sessions.IsValid("x"));
        Assert.False(sessions.IsValid(null));
    }

    [Fact]
    public void CreateLoginToken_MoreThanTheBound_OldestDropped()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        var tokens = new List<string>();
        for (var i = 0; i < ConsoleSessions.MaxLoginTokens + 1; i++)
        {
            tokens.Add(sessions.CreateLoginToken().Token);
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        Assert.Null(sessions.Exchange(tokens[0]));
        Assert.All(tokens.Skip(1), t => Assert.NotNull(sessions.Exchange(t)));
    }

    [Fact]
    public void Exchange_MoreSessionsThanTheBound_OldestEnded()
    {
        var sessions = new ConsoleSessions(TimeSpan.FromHours(1), _time);
        var started = new List<string>();
        for (var i = 0; i < ConsoleSessions.MaxSessions + 1; i++)
        {
            started.Add(sessions.Exchange(sessions.CreateLoginToken().Token)!.Value.Session);
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        Assert.False(sessions.IsValid(started[0]));
        Assert.All(started.Skip(1), s => Assert.True(sessions.IsValid(s)));
    }
}
