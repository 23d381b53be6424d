namespace Anchorage.Server.Federation;

/// <summary>
/// One fetch of a relationship's bundle endpoint as the refresher recorded it (issue 16 item 2, the
/// fetch history): when, how it ended, and what the peer published. The datastore keeps the latest
/// <see cref="HistoryLimit"/> per relationship.
/// </summary>
/// <param name="Time">When the fetch ended (the refresher's clock).</param>
/// <param name="Outcome"><see cref="Ok"/>, <see cref="NotModified"/> or <see cref="Error"/>.</param>
/// <param name="Message">Why it failed, one line (the refresh state's <c>lastError</c>); null unless <see cref="Error"/>.</param>
/// <param name="Sequence">The <c>spiffe_sequence</c> the endpoint served (also on some errors, e.g. a rollback); null when absent or not read.</param>
/// <param name="RefreshHint">The <c>spiffe_refresh_hint</c> the endpoint served; null when absent or not read.</param>
/// <param name="ClockSkew">The endpoint's clock minus ours (<see cref="Anchorage.Spiffe.Federation.BundleFetchResult.ClockSkew"/>); null when not measured.</param>
public sealed record FederationFetch(
    DateTimeOffset Time,
    string Outcome,
    string? Message,
    ulong? Sequence,
    TimeSpan? RefreshHint,
    TimeSpan? ClockSkew)
{
    /// <summary>How many fetches the datastore keeps per relationship (older ones are pruned on insert).</summary>
    public const int HistoryLimit = 50;

    /// <summary>The longest <see cref="Message"/> stored; a longer one is cut.</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>The bundle was accepted and differed from the stored one (stored).</summary>
    public const string Ok = "ok";

    /// <summary>The bundle was accepted and equal to the stored one (same sequence, hint and authorities).</summary>
    public const string NotModified = "not-modified";

    /// <summary>The fetch failed or the bundle was rejected; <see cref="Message"/> says why.</summary>
    public const string Error = "error";

    /// <summary>True for the three outcomes.</summary>
    public static bool IsOutcome(string? outcome) => outcome is Ok or NotModified or Error;
}
