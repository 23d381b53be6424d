using Anchorage.Spiffe.Ids;

namespace Anchorage.Foundation.Ids;

/// <summary>
/// The SPIFFE IDs the server gives itself and its agents, in one place for the server (which
/// issues them), the agent (which authenticates the server by its ID) and the CLI. Every path under
/// <see cref="ReservedPathPrefix"/> belongs to Anchorage: registration entries cannot claim one, so a
/// workload can never hold an agent's or the server's identity.
/// </summary>
public static class AnchorageIds
{
    /// <summary>Paths under this prefix are reserved (<c>/anchorage/</c>).</summary>
    public const string ReservedPathPrefix = "/anchorage/";

    /// <summary>The path of the server's ID; entries parented by it are node-alias entries.</summary>
    public const string ServerPath = "/anchorage/server";

    /// <summary>Every agent's ID is under this path (<c>/anchorage/agent/</c>).</summary>
    public const string AgentPathPrefix = "/anchorage/agent/";

    /// <summary>The path prefix of agents attested with a join token.</summary>
    public const string JoinTokenAgentPathPrefix = AgentPathPrefix + "join_token/";

    /// <summary><c>spiffe://&lt;td&gt;/anchorage/server</c>.</summary>
    public static SpiffeId ServerId(TrustDomain trustDomain) => SpiffeId.FromPath(trustDomain, ServerPath);

    /// <summary><c>spiffe://&lt;td&gt;/anchorage/agent/join_token/&lt;tokenId&gt;</c>.</summary>
    /// <exception cref="FormatException"><paramref name="tokenId"/> is not a valid path segment.</exception>
    public static SpiffeId JoinTokenAgentId(TrustDomain trustDomain, string tokenId) =>
        SpiffeId.FromPath(trustDomain, JoinTokenAgentPathPrefix + tokenId);

    /// <summary>True when <paramref name="id"/>'s path is under <see cref="ReservedPathPrefix"/>.</summary>
    public static bool IsReserved(SpiffeId id) => id.Path.StartsWith(ReservedPathPrefix, StringComparison.Ordinal);
}
