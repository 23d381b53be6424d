namespace Anchorage.WorkloadApi;

/// <summary>Options of <see cref="WorkloadApiClient"/>; every default is stated.</summary>
public sealed class WorkloadApiClientOptions
{
    /// <summary>
    /// The Workload API address (<c>unix:///path</c> or <c>tcp://ip:port</c>). Default null: the
    /// value of <c>SPIFFE_ENDPOINT_SOCKET</c> (SPIFFE Workload Endpoint §4).
    /// </summary>
    public string? Address { get; set; }

    /// <summary>The clock for backoff delays and for checking received JWT-SVIDs. Default the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The first delay before a watch reconnects. Default 1 s.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest delay between reconnect attempts; each failure doubles the step up to it, and the
    /// wait is a random time between half and all of the step, so workloads do not reconnect in lockstep. Default 30 s.
    /// </summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Called when a watch failed and will reconnect after the given delay (for logging; never
    /// given key or token material). Default null.
    /// </summary>
    public Action<Exception, TimeSpan>? RetryScheduled { get; set; }
}
