namespace Anchorage.Server.Config;

/// <summary><c>federation:</c> how the server refreshes the bundles of federated trust domains and serves its own.</summary>
public sealed record FederationOptions
{
    /// <summary>The smallest allowed <see cref="RefreshFloor"/>: 1s.</summary>
    public static readonly TimeSpan MinRefreshFloor = TimeSpan.FromSeconds(1);

    /// <summary>No foreign bundle is polled more often than this, whatever its refresh hint says. Default 1m, at least 1s.</summary>
    public TimeSpan RefreshFloor { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Whether a relationship's bundle waits for <c>anchorage federation approve</c> before agents receive
    /// it (issue 15 item 1). Default true. <c>false</c> is for labs only: every applied relationship is
    /// trusted at once, as before approvals existed.
    /// </summary>
    public bool RequireApproval { get; init; } = true;

    /// <summary>The bundle endpoint this server serves its trust bundle on. Default null: none.</summary>
    public BundleEndpointOptions? BundleEndpoint { get; init; }
}
