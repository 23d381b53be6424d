using Anchorage.Spiffe.Bundles;
using Microsoft.AspNetCore.Authentication;

namespace Anchorage.AspNetCore.Authentication;

/// <summary>Options of the X.509-SVID authentication handler; every default is stated.</summary>
public sealed class SpiffeX509AuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>
    /// The X.509 bundles that verify a client certificate Kestrel accepted without
    /// <c>UseSpiffeMtls</c> (then only the leaf is at hand: a chain with intermediates does not
    /// verify). Default null: the <see cref="IX509BundleSource"/> registered in the services. A
    /// connection set up by <c>UseSpiffeMtls</c> is never verified twice.
    /// </summary>
    public IX509BundleSource? Bundles { get; set; }
}
