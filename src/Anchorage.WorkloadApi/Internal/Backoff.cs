using System.Security.Cryptography;

namespace Anchorage.WorkloadApi.Internal;

/// <summary>
/// Exponential backoff with jitter: each failure doubles the delay up to a cap; a success resets
/// it. Jitter (±20 %) keeps many workloads from reconnecting to a restarted agent in lockstep.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    public const double Jitter = 0.2;

    private readonly TimeSpan _initial = initial;
    private TimeSpan _next = initial;

    public TimeSpan Next()
    {
        var baseDelay = _next;
        _next = TimeSpan.FromTicks(Math.Min(max.Ticks, baseDelay.Ticks * 2));

        // A uniform factor in [1 - Jitter, 1 + Jitter].
        var factor = 1 - Jitter + (2 * Jitter * RandomNumberGenerator.GetInt32(0, 1001) / 1000.0);
        return TimeSpan.FromTicks((long)(baseDelay.Ticks * factor));
    }

    public void Reset() => _next = _initial;
}
