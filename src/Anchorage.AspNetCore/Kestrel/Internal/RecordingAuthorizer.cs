using Anchorage.AspNetCore.Internal;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.AspNetCore.Kestrel.Internal;

/// <summary>
/// Wraps the listener's authorizer for one connection: the core TLS validator calls it only after
/// the client's chain verified, so what it records is a verified ID and the decision made on it.
/// </summary>
internal sealed class RecordingAuthorizer(Authorizer inner, SpiffePeerFeature feature, ILogger logger) : Authorizer
{
    public override AuthorizationResult Authorize(SpiffeId id)
    {
        var decision = inner.Authorize(id);
        feature.Record(id, decision);
        if (!decision.IsAllowed)
        {
            Log.ClientRefused(logger, id, decision.Reason);
        }

        return decision;
    }
}
