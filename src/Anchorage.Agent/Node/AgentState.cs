using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Node;

/// <summary>
/// What the agent keeps across restarts: its own X.509-SVID with the private key, and the last
/// trust bundle of its trust domain it received from the server (used to authenticate the
/// server on the next start, so a rotated CA does not strand the agent on a stale bootstrap file).
/// </summary>
/// <param name="Svid">The agent's SVID (<c>spiffe://&lt;td&gt;/anchorage/agent/...</c>) and key.</param>
/// <param name="Bundle">The own trust domain's bundle.</param>
public sealed record AgentState(X509Svid Svid, SpiffeBundle Bundle);
