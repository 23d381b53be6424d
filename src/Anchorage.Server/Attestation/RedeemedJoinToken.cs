using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Attestation;

/// <summary>A join token that was accepted: who the agent is now.</summary>
/// <param name="AgentId"><c>spiffe://&lt;td&gt;/anchorage/agent/join_token/&lt;id&gt;</c>, the SPIFFE ID to sign the agent SVID for.</param>
/// <param name="TokenId">The token's public id.</param>
/// <param name="Selectors">The node's selectors: <c>join_token:&lt;id&gt;</c>.</param>
/// <param name="Alias">The node alias created, or empty.</param>
public sealed record RedeemedJoinToken(SpiffeId AgentId, string TokenId, ImmutableArray<Selector> Selectors, SpiffeId Alias);
