namespace Anchorage.Agent.Hosting;

/// <summary>What the readiness callback answers: ready, or not with a one-line reason (<c>no agent svid yet</c>).</summary>
/// <param name="IsReady">True when the agent can serve workloads.</param>
/// <param name="Reason">Why not, one short lowercase line; <c>ready</c> when ready.</param>
public readonly record struct AgentReadiness(bool IsReady, string Reason)
{
    /// <summary>Ready.</summary>
    public static AgentReadiness Ready { get; } = new(true, "ready");

    /// <summary>Not ready, because of <paramref name="reason"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is empty or white space.</exception>
    public static AgentReadiness NotReady(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(false, reason);
    }
}
