using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Attestation;

/// <summary>
/// A one-time join token as stored: its public id and the SHA-256 of its secret (never the
/// secret). Agents present <c>&lt;id&gt;.&lt;secret&gt;</c>; the agent's SPIFFE ID names only the id.
/// </summary>
public sealed record JoinToken
{
    /// <summary>Public id, used in <c>spiffe://td/anchorage/agent/join_token/&lt;id&gt;</c>.</summary>
    public required string Id { get; init; }

    /// <summary>SHA-256 of the secret part.</summary>
    public required byte[] SecretHash { get; init; }

    /// <summary>After this instant the token cannot be redeemed.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>
    /// When set, redeeming makes this ID an alias of the node (as SPIRE's <c>-spiffeID</c>), so
    /// entries can name it as their parent. Empty when none.
    /// </summary>
    public SpiffeId Alias { get; init; }
}
