using Anchorage.Spiffe.Bundles;

namespace Anchorage.Spiffe.Federation;

/// <summary>
/// The outcome of one <see cref="BundleFetcher.FetchAsync"/>: either a bundle that passed every
/// check (<see cref="Accepted"/>) or a one-line <see cref="Error"/>; a rejected fetch hands out no
/// bundle, so the caller keeps its last good one.
/// </summary>
public sealed record BundleFetchResult
{
    /// <summary>True when a new or unchanged bundle passed every check.</summary>
    public bool Accepted { get; init; }

    /// <summary>The bundle to store (parsed for the relationship's trust domain); null when rejected.</summary>
    public SpiffeBundle? Bundle { get; init; }

    /// <summary>
    /// True when the accepted bundle differs from the current one in its sequence number, refresh
    /// hint or authorities (always true when there was no current bundle); false when rejected.
    /// </summary>
    public bool Changed { get; init; }

    /// <summary>Why the fetch was rejected, one line naming the URL it happened at; null when accepted.</summary>
    public string? Error { get; init; }

    /// <summary>The URL of the last request made (after redirects); reported, never to be remembered.</summary>
    public required Uri FinalUrl { get; init; }

    /// <summary>The HTTP status of the last response; null when no response arrived.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>The fetched bundle's <c>spiffe_sequence</c> (also on some rejections, e.g. a rollback); null when absent or not parsed.</summary>
    public ulong? Sequence { get; init; }

    /// <summary>The fetched bundle's <c>spiffe_refresh_hint</c>; null when absent or not parsed.</summary>
    public TimeSpan? RefreshHint { get; init; }

    /// <summary>
    /// The endpoint's clock minus ours, from the final response's HTTP <c>Date</c> header: Date minus
    /// the midpoint between sending the request and receiving the headers (issue 15 item 2). Date has
    /// one-second resolution, so the error is up to one second plus half the round trip. Null when the
    /// response had no Date or no 200 response arrived.
    /// </summary>
    public TimeSpan? ClockSkew { get; init; }

    /// <summary>
    /// Authorities in the accepted bundle and not in the current one: X.509 authorities by their
    /// subject key identifier in lowercase hex (the SHA-256 of the certificate when it has none),
    /// JWT authorities by key id. A JWT key id kept with a new key is both added and removed.
    /// </summary>
    public IReadOnlyList<string> AuthoritiesAdded { get; init; } = [];

    /// <summary>Authorities in the current bundle and not in the accepted one; named as in <see cref="AuthoritiesAdded"/>.</summary>
    public IReadOnlyList<string> AuthoritiesRemoved { get; init; } = [];

    /// <summary>
    /// Things worth logging about an accepted bundle, one line each: the parser's notes on ignored keys,
    /// an unchanged <c>spiffe_sequence</c> with changed authorities (§4.1.1 says it MUST change).
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
