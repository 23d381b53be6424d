using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// The trust domains whose stored bundles agents must not receive now (pending, or review-due with
/// <c>onReviewDue: suspend</c>), by <see cref="FederationApprovalRules"/>: read by the agent API's
/// <c>GetBundles</c> and by the bundle change feed, so that an approval, a revocation or a review date
/// passing reaches the agents as a bundle change does.
/// </summary>
internal sealed class WithheldBundles(IDataStore store, FederationApprovalRules rules, TimeProvider time)
{
    public FederationApprovalRules Rules => rules;

    public async Task<HashSet<TrustDomain>> ListAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var withheld = new HashSet<TrustDomain>();
        foreach (var (relationship, _) in await store.ListRelationshipsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!rules.IsDistributed(relationship, now))
            {
                withheld.Add(relationship.TrustDomain);
            }
        }

        return withheld;
    }
}
