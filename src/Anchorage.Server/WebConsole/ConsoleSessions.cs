using System.Security.Cryptography;
using Anchorage.Server.Config;

namespace Anchorage.Server.WebConsole;

/// <summary>
/// The console's login tokens and sessions. A login token (from <c>anchorage console login</c>) is
/// good once, for <see cref="LoginTokenTtl"/>; exchanging it starts a session that lasts
/// <see cref="ConsoleOptions.SessionTtl"/>. Only SHA-256 digests of the secrets are kept, in two
/// bounded tables: when one is full the entry that expires first makes room.
/// </summary>
public sealed class ConsoleSessions
{
    /// <summary>How long a login token may wait to be used: 60 s.</summary>
    public static readonly TimeSpan LoginTokenTtl = TimeSpan.FromSeconds(60);

    /// <summary>The most login tokens outstanding at once.</summary>
    public const int MaxLoginTokens = 16;

    /// <summary>The most sessions alive at once.</summary>
    public const int MaxSessions = 64;

    private const int SecretBytes = 32;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly TimeSpan _sessionTtl;

    /// <summary>Creates the tables.</summary>
    /// <param name="sessionTtl">How long a session lasts (<see cref="ConsoleOptions.SessionTtl"/>).</param>
    /// <param name="time">The clock every expiry is measured with.</param>
    public ConsoleSessions(TimeSpan sessionTtl, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(sessionTtl, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        _sessionTtl = sessionTtl;
        _time = time;
    }

    /// <summary>How long a session lasts.</summary>
    public TimeSpan SessionTtl => _sessionTtl;

    /// <summary>A new one-time login token and when it expires.</summary>
    public (string Token, DateTimeOffset ExpiresAt) CreateLoginToken()
    {
        var token = NewSecret();
        var expiresAt = _time.GetUtcNow() + LoginTokenTtl;
        lock (_lock)
        {
            Add(_tokens, Digest(token), expiresAt, MaxLoginTokens);
        }

        return (token, expiresAt);
    }

    /// <summary>
    /// Consumes <paramref name="token"/> and starts a session: its secret (the cookie value) and
    /// expiry; null when the token is unknown, used or expired.
    /// </summary>
    public (string Session, DateTimeOffset ExpiresAt)? Exchange(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 100)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        lock (_lock)
        {
            // Removed whatever the outcome: a token is tried once.
            if (!_tokens.Remove(Digest(token), out var expiresAt) || now >= expiresAt)
            {
                return null;
            }

            var session = NewSecret();
            var sessionExpires = now + _sessionTtl;
            Add(_sessions, Digest(session), sessionExpires, MaxSessions);
            return (session, sessionExpires);
        }
    }

    /// <summary>Whether <paramref name="session"/> (a cookie value) names a live session.</summary>
    public bool IsValid(string? session)
    {
        if (string.IsNullOrEmpty(session) || session.Length > 100)
        {
            return false;
        }

        var now = _time.GetUtcNow();
        var digest = Digest(session);
        lock (_lock)
        {
            if (!_sessions.TryGetValue(digest, out var expiresAt))
            {
                return false;
            }

            if (now < expiresAt)
            {
                return true;
            }

            _sessions.Remove(digest);
            return false;
        }
    }

    private void Add(Dictionary<string, DateTimeOffset> table, string digest, DateTimeOffset expiresAt, int bound)
    {
        var now = _time.GetUtcNow();
        foreach (var expired in table.Where(e => e.Value <= now).Select(e => e.Key).ToList())
        {
            table.Remove(expired);
        }

        while (table.Count >= bound)
        {
            table.Remove(table.MinBy(e => e.Value).Key);
        }

        table[digest] = expiresAt;
    }

    private static string NewSecret() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));

    private static string Digest(string secret) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret)));
}
