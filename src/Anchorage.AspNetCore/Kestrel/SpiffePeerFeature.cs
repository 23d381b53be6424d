using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;

namespace Anchorage.AspNetCore.Kestrel;

/// <summary>
/// A connection feature set by <see cref="SpiffeKestrelExtensions.UseSpiffeMtls(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, Authorizer)"/>:
/// the client's SPIFFE ID once its X.509-SVID has been verified with the bundle of its own trust
/// domain and allowed by the listener's authorizer. Read it with
/// <c>HttpContext.Features.Get&lt;SpiffePeerFeature&gt;()</c>; the X.509 authentication handler
/// turns it into a principal.
/// </summary>
public sealed class SpiffePeerFeature
{
    private SpiffeId _id;
    private AuthorizationResult? _decision;

    /// <summary>The verified and authorized client SPIFFE ID; empty until the handshake has allowed one.</summary>
    public SpiffeId Id => _id;

    /// <summary>The listener authorizer's decision for this connection; null before one was made.</summary>
    public AuthorizationResult? Decision => _decision;

    internal void Record(SpiffeId id, AuthorizationResult decision)
    {
        _decision = decision;
        _id = decision.IsAllowed ? id : default;
    }
}
