using Anchorage.Spiffe.Federation;

namespace Anchorage.Server.Federation;

/// <summary>
/// What the refresher knows about one relationship's bundle endpoint, stored next to the
/// relationship so every server of the trust domain and the governance commands see it.
/// </summary>
public sealed record FederationRefreshState
{
    /// <summary>When a fetch last succeeded (a bundle was accepted or was unchanged); null: never.</summary>
    public DateTimeOffset? LastSuccess { get; init; }

    /// <summary>When a fetch was last attempted; null: never.</summary>
    public DateTimeOffset? LastAttempt { get; init; }

    /// <summary>Why the last failed fetch failed (one line); null when the latest attempt succeeded.</summary>
    public string? LastError { get; init; }

    /// <summary>When the last failure happened (kept after a later success, for the record).</summary>
    public DateTimeOffset? LastErrorAt { get; init; }

    /// <summary>When the next fetch is due.</summary>
    public DateTimeOffset? NextRefresh { get; init; }

    /// <summary>Consecutive failures since the last success (drives the backoff).</summary>
    public int ConsecutiveFailures { get; init; }

    /// <summary>When a fetch last replaced every X.509 authority of the stored bundle at once (a rotation without overlap); null for never.</summary>
    public DateTimeOffset? RotationWithoutOverlapAt { get; init; }

    /// <summary>The endpoint's clock minus ours at the last successful fetch (<see cref="BundleFetchResult.ClockSkew"/>); null: never measured.</summary>
    public TimeSpan? ClockSkew { get; init; }
}
