using System.Buffers.Text;
using System.Security.Cryptography;
using Anchorage.Foundation.Ids;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Attestation.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Server.Registration.Internal;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Attestation;

/// <summary>
/// One-time join tokens: generate for an operator, redeem once for an agent.
/// </summary>
/// <remarks>
/// <para>A token is <c>&lt;id&gt;.&lt;secret&gt;</c>: the id is 8 random bytes as 16 lowercase hex
/// characters, public (it names the agent, <c>spiffe://&lt;td&gt;/anchorage/agent/join_token/&lt;id&gt;</c>);
/// the secret is 32 random bytes, base64url without padding. The store keeps only the id, SHA-256 of
/// the secret bytes, the expiry and the alias.</para>
/// <para>Redeeming takes the token out of the store first (atomic, so of concurrent redeemers exactly one
/// can succeed), then compares the secret's hash in constant time and checks expiry. A token that
/// fails any check is therefore consumed too: a wrong secret with a right id means the token leaked
/// or is being guessed at, and the operator issues a new one. Every failure gives the agent the same
/// message, <c>join token is invalid or has expired</c>, so it cannot learn which ids exist; the log
/// says which check failed, naming the token only by its id.</para>
/// </remarks>
public sealed class JoinTokenService
{
    /// <summary>Lifetime when none is given: 10 minutes (as SPIRE).</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromMinutes(10);

    /// <summary>Longest lifetime accepted: 24 hours; a join token is a bearer credential.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromHours(24);

    /// <summary>The message of every refused token.</summary>
    public const string InvalidTokenMessage = "join token is invalid or has expired";

    private const int IdBytes = 8;
    private const int SecretBytes = 32;
    private const int SecretChars = 43; // base64url of 32 bytes, unpadded

    private readonly IDataStore _store;
    private readonly EntryService _entries;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the service; node-alias entries are created through <paramref name="entries"/> (and so validated).</summary>
    public JoinTokenService(IDataStore store, EntryService entries, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _entries = entries;
        _time = timeProvider;
        _logger = logger ?? NullLogger.Instance;
        TrustDomain = entries.Validator.TrustDomain;
    }

    /// <summary>The trust domain agents join.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>Generates and stores a token.</summary>
    /// <param name="ttl">Lifetime, 1 second to <see cref="MaxTtl"/>; null for <see cref="DefaultTtl"/>.</param>
    /// <param name="alias">
    /// When not empty, redeeming makes it an alias of the node: a node-alias entry with this SPIFFE ID,
    /// parent <c>spiffe://&lt;td&gt;/anchorage/server</c> and selector <c>join_token:&lt;id&gt;</c>.
    /// </param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ttl"/> is outside 1 s .. 24 h.</exception>
    /// <exception cref="EntryValidationException">The alias entry would be invalid (e.g. another trust domain, a reserved path).</exception>
    public async Task<JoinTokenGrant> GenerateAsync(TimeSpan? ttl, SpiffeId alias, CancellationToken cancellationToken)
    {
        var lifetime = ttl ?? DefaultTtl;
        if (lifetime < TimeSpan.FromSeconds(1) || lifetime > MaxTtl)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), "join token ttl must be between 1 second and 24 hours");
        }

        // Ids are 64 random bits; a collision with a live token is retried rather than reported.
        for (var attempt = 1; ; attempt++)
        {
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdBytes));
            if (!alias.IsEmpty)
            {
                _entries.Validator.ThrowIfInvalid(AliasEntry(id, alias));
            }

            var secret = RandomNumberGenerator.GetBytes(SecretBytes);
            try
            {
                var expiresAt = _time.GetUtcNow() + lifetime;
                var stored = new JoinToken { Id = id, SecretHash = SHA256.HashData(secret), ExpiresAt = expiresAt, Alias = alias };
                await _store.CreateJoinTokenAsync(stored, cancellationToken).ConfigureAwait(false);
                AttestationLog.JoinTokenGenerated(_logger, id, expiresAt, alias);
                return new JoinTokenGrant(id + "." + Base64Url.EncodeToString(secret), id, AnchorageIds.JoinTokenAgentId(TrustDomain, id), expiresAt, alias);
            }
            catch (DataStoreConflictException) when (attempt < 3)
            {
            }
            finally
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }
    }

    /// <summary>
    /// Redeems a token once: on success the token is gone, the node alias (if any) exists, and the
    /// caller signs an agent SVID for <see cref="RedeemedJoinToken.AgentId"/> and records it with
    /// <see cref="NodeService.RecordAttestationAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="token"/> is null.</exception>
    /// <exception cref="AttestationException">
    /// <see cref="AttestationFailure.InvalidJoinToken"/> with <see cref="InvalidTokenMessage"/> for a malformed, unknown,
    /// used, wrong or expired token; <see cref="AttestationFailure.Banned"/> (<c>node &lt;agent id&gt; is banned</c>).
    /// </exception>
    public async Task<RedeemedJoinToken> RedeemAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (!TryParse(token, out var id, out var secret))
        {
            AttestationLog.JoinTokenMalformed(_logger);
            throw Invalid();
        }

        JoinToken? stored;
        bool matches;
        try
        {
            stored = await _store.TakeJoinTokenAsync(id, cancellationToken).ConfigureAwait(false);
            matches = stored is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(secret), stored.SecretHash);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }

        if (stored is null)
        {
            AttestationLog.JoinTokenUnknown(_logger, id);
            throw Invalid();
        }

        if (!matches)
        {
            AttestationLog.JoinTokenWrongSecret(_logger, id);
            throw Invalid();
        }

        if (_time.GetUtcNow() >= stored.ExpiresAt)
        {
            AttestationLog.JoinTokenExpired(_logger, id, stored.ExpiresAt);
            throw Invalid();
        }

        var agentId = AnchorageIds.JoinTokenAgentId(TrustDomain, id);
        if (await _store.GetNodeAsync(agentId, cancellationToken).ConfigureAwait(false) is { Banned: true })
        {
            AttestationLog.JoinTokenNodeBanned(_logger, id, agentId);
            throw new AttestationException(AttestationFailure.Banned, $"node {agentId} is banned");
        }

        if (!stored.Alias.IsEmpty)
        {
            try
            {
                await _entries.CreateAsync(AliasEntry(id, stored.Alias), cancellationToken).ConfigureAwait(false);
            }
            catch (EntryConflictException)
            {
                AttestationLog.NodeAliasExists(_logger, id, stored.Alias);
            }
        }

        AttestationLog.JoinTokenRedeemed(_logger, id, agentId);
        return new RedeemedJoinToken(agentId, id, [new Selector(SelectorType.JoinToken.Name, id)], stored.Alias);
    }

    private RegistrationEntry AliasEntry(string tokenId, SpiffeId alias) => new()
    {
        Id = string.Empty,
        SpiffeId = alias,
        ParentId = AnchorageIds.ServerId(TrustDomain),
        Selectors = [new Selector(SelectorType.JoinToken.Name, tokenId)],
    };

    private static AttestationException Invalid() => new(AttestationFailure.InvalidJoinToken, InvalidTokenMessage);

    private static bool TryParse(string token, out string id, out byte[] secret)
    {
        id = string.Empty;
        secret = [];
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot != IdBytes * 2 || token.Length != dot + 1 + SecretChars || !SelectorRules.IsLowerHex(token[..dot], IdBytes * 2))
        {
            return false;
        }

        var decoded = new byte[SecretBytes];
        if (Base64Url.DecodeFromChars(token.AsSpan(dot + 1), decoded, out var consumed, out var written) != System.Buffers.OperationStatus.Done
            || consumed != SecretChars || written != SecretBytes)
        {
            CryptographicOperations.ZeroMemory(decoded);
            return false;
        }

        id = token[..dot];
        secret = decoded;
        return true;
    }
}
