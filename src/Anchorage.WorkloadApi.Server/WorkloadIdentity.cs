using System.Collections.Immutable;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.WorkloadApi.Server;

/// <summary>
/// One immutable snapshot of what a calling workload may have: its X.509-SVIDs (default first),
/// the bundles it may see, and a token that fires when the snapshot is superseded. Streams send
/// the full state of every new snapshot (Workload API §4.3).
/// </summary>
public sealed class WorkloadIdentity
{
    /// <summary>Creates a snapshot.</summary>
    /// <param name="caller">A stable key for the calling workload (e.g. its PID or selector set);
    /// per-caller stream limits count by it. Never shown to clients.</param>
    /// <param name="trustDomain">The trust domain the server resides in.</param>
    /// <param name="x509Svids">The caller's X.509-SVIDs, default first; may be empty for a
    /// bundle-only caller. Non-empty hints must be unique (Workload API §5.2.1).</param>
    /// <param name="bundles">Every bundle the caller may see; must hold the X.509 bundle of
    /// <paramref name="trustDomain"/> (Workload API §5.2.2).</param>
    /// <param name="changed">Cancelled when this snapshot is superseded; <c>default</c> when it never is.</param>
    /// <exception cref="ArgumentException">The caller key or trust domain is empty, a hint repeats,
    /// or the own trust domain's X.509 bundle is missing.</exception>
    public WorkloadIdentity(
        string caller,
        TrustDomain trustDomain,
        IEnumerable<X509Svid> x509Svids,
        BundleSet bundles,
        CancellationToken changed = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(caller);
        ArgumentNullException.ThrowIfNull(x509Svids);
        ArgumentNullException.ThrowIfNull(bundles);
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        var svids = x509Svids.ToImmutableArray();
        var hints = new HashSet<string>(StringComparer.Ordinal);
        foreach (var svid in svids)
        {
            ArgumentNullException.ThrowIfNull(svid, nameof(x509Svids));
            if (!string.IsNullOrEmpty(svid.Hint) && !hints.Add(svid.Hint))
            {
                throw new ArgumentException($"hint \"{svid.Hint}\" is used by more than one svid", nameof(x509Svids));
            }
        }

        if (!bundles.X509Bundles.ContainsKey(trustDomain))
        {
            throw new ArgumentException($"no x509 bundle for own trust domain \"{trustDomain.Name}\"", nameof(bundles));
        }

        Caller = caller;
        TrustDomain = trustDomain;
        X509Svids = svids;
        Bundles = bundles;
        Changed = changed;
    }

    /// <summary>The stable key of the calling workload.</summary>
    public string Caller { get; }

    /// <summary>The trust domain the server resides in.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The caller's X.509-SVIDs; the first is the default.</summary>
    public ImmutableArray<X509Svid> X509Svids { get; }

    /// <summary>Every bundle (X.509 and JWT) the caller may see, own trust domain included.</summary>
    public BundleSet Bundles { get; }

    /// <summary>Cancelled when a newer snapshot exists; streams then resolve the caller again.</summary>
    public CancellationToken Changed { get; }
}
