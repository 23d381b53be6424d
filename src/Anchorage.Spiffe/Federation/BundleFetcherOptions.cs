using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Spiffe.Federation;

/// <summary>Limits and trust settings of a <see cref="BundleFetcher"/>.</summary>
public sealed record BundleFetcherOptions
{
    /// <summary>The default body limit: 1 MiB.</summary>
    public const int DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// The largest response body read, in bytes (default 1 MiB); a larger body is refused without
    /// reading past the limit. At most <see cref="Spiffe.Bundles.SpiffeBundle.MaxSize"/>.
    /// </summary>
    public int MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    /// <summary>How long one fetch may take in all, redirects and body included (default 10 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many redirects one fetch follows (default 5); 0 refuses every redirect.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>
    /// Extra Web-PKI roots trusted for every <c>https_web</c> endpoint, in addition to the system
    /// roots and the relationship's own <c>caBundle</c>; meant for tests. Null for none.
    /// </summary>
    public X509Certificate2Collection? ExtraWebRoots { get; init; }
}
