using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Attestation;

/// <summary>
/// A newly generated join token, the only time its secret exists outside the agent: hand
/// <see cref="Token"/> to the operator once. <see cref="ToString"/> leaves the token out.
/// </summary>
/// <param name="Token"><c>&lt;id&gt;.&lt;secret&gt;</c>; a credential.</param>
/// <param name="Id">The public id (16 lowercase hex characters).</param>
/// <param name="AgentId">The SPIFFE ID the agent will get: <c>spiffe://&lt;td&gt;/anchorage/agent/join_token/&lt;id&gt;</c>.</param>
/// <param name="ExpiresAt">The token is refused from this instant on.</param>
/// <param name="Alias">The node alias redeeming creates; empty when none.</param>
public sealed record JoinTokenGrant(string Token, string Id, SpiffeId AgentId, DateTimeOffset ExpiresAt, SpiffeId Alias)
{
    /// <summary>Everything but the token.</summary>
    public override string ToString() =>
        $"JoinTokenGrant {{ Id = {Id}, AgentId = {AgentId}, ExpiresAt = {ExpiresAt:O}, Alias = {Alias} }}";
}
