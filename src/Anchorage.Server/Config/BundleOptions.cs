namespace Anchorage.Server.Config;

/// <summary><c>bundle:</c> what the server publishes with its trust bundle.</summary>
public sealed record BundleOptions
{
    /// <summary>The <c>spiffe_refresh_hint</c> given to consumers of the bundle. Default 5m.</summary>
    public TimeSpan RefreshHint { get; init; } = TimeSpan.FromMinutes(5);
}
