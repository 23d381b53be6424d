namespace Anchorage.Hosting.Health;

/// <summary>What a host's readiness callback answers: ready, or not with a one-line reason (<c>datastore unreachable</c>).</summary>
/// <param name="IsReady">True when the host can serve requests.</param>
/// <param name="Reason">Why not, one short lowercase line; <c>ready</c> when ready.</param>
public readonly record struct ReadinessStatus(bool IsReady, string Reason)
{
    /// <summary>Ready.</summary>
    public static ReadinessStatus Ready { get; } = new(true, "ready");

    /// <summary>Not ready, because of <paramref name="reason"/>.</summary>
    public static ReadinessStatus NotReady(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(false, reason);
    }
}
