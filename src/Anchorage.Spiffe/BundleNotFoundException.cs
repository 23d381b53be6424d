using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe;

/// <summary>No bundle is known for the trust domain an identity names.</summary>
public sealed class BundleNotFoundException : SpiffeException
{
    public BundleNotFoundException(TrustDomain trustDomain, string kind)
        : base($"no {kind} bundle for trust domain \"{trustDomain.Name}\"")
    {
        TrustDomain = trustDomain;
    }

    /// <summary>The trust domain that has no bundle.</summary>
    public TrustDomain TrustDomain { get; }
}
