using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>What decides whether a published bundle is new: its authorities and refresh hint, not its sequence.</summary>
internal static class BundleContent
{
    /// <summary>
    /// True when both bundles have the same X.509 authorities (set of DER certificates), the same
    /// JWT authorities (set of key id + SubjectPublicKeyInfo) and the same refresh hint in whole
    /// seconds (the unit the bundle document stores, SPIFFE_Trust_Domain_and_Bundle §4.1.2).
    /// </summary>
    public static bool SameContent(SpiffeBundle a, SpiffeBundle b) =>
        HintSeconds(a.RefreshHint) == HintSeconds(b.RefreshHint) &&
        X509Set(a).SetEquals(X509Set(b)) &&
        JwtSet(a).SetEquals(JwtSet(b));

    /// <summary>The hint as the document stores it: whole seconds, rounded up.</summary>
    public static TimeSpan? NormalizeHint(TimeSpan? hint) =>
        HintSeconds(hint) is { } seconds ? TimeSpan.FromSeconds(seconds) : null;

    private static long? HintSeconds(TimeSpan? hint) =>
        hint is { } h ? (h.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond : null;

    private static HashSet<string> X509Set(SpiffeBundle bundle) =>
        [.. bundle.X509Authorities.Select(c => Convert.ToHexString(c.RawData))];

    private static HashSet<string> JwtSet(SpiffeBundle bundle) =>
        [.. bundle.JwtAuthorities.Select(a => a.KeyId + "\n" + Convert.ToHexString(a.SubjectPublicKeyInfo.Span))];
}
