using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Federation;

/// <summary>Refreshes federated bundles; the admin API's <c>RefreshFederation</c> asks it for an immediate fetch.</summary>
public interface IFederationRefresher
{
    /// <summary>
    /// Fetches the bundle of <paramref name="trustDomain"/> now (outside its schedule), applies the
    /// same checks as a scheduled refresh, records the outcome, and returns the new refresh state.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No relationship with that trust domain.</exception>
    Task<FederationRefreshState> RefreshNowAsync(TrustDomain trustDomain, CancellationToken cancellationToken);
}
