using System.Collections.Immutable;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;

namespace Anchorage.WorkloadApi;

/// <summary>
/// One full state from <c>FetchX509SVID</c> (SPIFFE Workload API §5.2.1): the workload's
/// X.509-SVIDs, default first, and the X.509 bundles it may use, federated ones included.
/// </summary>
public sealed class X509Context
{
    /// <summary>Creates a context.</summary>
    /// <exception cref="ArgumentException"><paramref name="svids"/> is empty.</exception>
    public X509Context(IEnumerable<X509Svid> svids, BundleSet bundles)
    {
        ArgumentNullException.ThrowIfNull(svids);
        ArgumentNullException.ThrowIfNull(bundles);
        Svids = [.. svids];
        if (Svids.IsEmpty)
        {
            throw new ArgumentException("an x509 context needs at least one svid", nameof(svids));
        }

        Bundles = bundles;
    }

    /// <summary>The X.509-SVIDs in the order received; the first is the default.</summary>
    public ImmutableArray<X509Svid> Svids { get; }

    /// <summary>The default X.509-SVID (the first).</summary>
    public X509Svid DefaultSvid => Svids[0];

    /// <summary>The X.509 bundles: the SVIDs' own trust domains and the federated ones.</summary>
    public BundleSet Bundles { get; }
}
