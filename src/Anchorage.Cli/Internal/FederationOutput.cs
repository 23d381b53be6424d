using System.Globalization;
using System.Text.Json;
using Anchorage.Foundation.Json;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Internal;

/// <summary>
/// How <c>federation</c> verbs print relationships. <c>--output json</c>: one object per
/// relationship (an array for <c>list</c>) with camelCase keys: <c>trustDomain</c>, <c>name</c>,
/// <c>owner</c>, <c>profile</c>, <c>url</c>, <c>endpointSpiffeId</c>, <c>sequence</c> (number),
/// <c>lastRefresh</c>, <c>lastAttempt</c>, <c>lastError</c>, <c>lastErrorAt</c>, <c>nextRefresh</c>,
/// <c>consecutiveFailures</c>, <c>maxStaleness</c> (a duration such as <c>30m</c>),
/// <c>maxStalenessSeconds</c>, <c>ageSeconds</c> (since the last refresh, by this machine's clock),
/// <c>earliestAnchorExpiry</c>, <c>federatingEntries</c>, <c>flags</c> (array of <c>stale</c>,
/// <c>unused</c>, <c>expiring</c>, <c>never-fetched</c>, as the server computed them), <c>createdAt</c>,
/// <c>updatedAt</c>, the approval and <c>coherence</c> fields, and observed use: <c>unusedReason</c>,
/// <c>unusedAfterSeconds</c>, <c>lastSeen</c> and <c>observedUse</c> (one object per reporting agent
/// and direction: <c>agentId</c>, <c>direction</c>, <c>listener</c>, <c>allowed</c>, <c>denied</c>, <c>lastAllowed</c>,
/// <c>lastDenied</c>, <c>reportedAt</c>), <c>fetches</c>, the fetch history (see <see cref="FederationHistoryOutput"/>), and
/// <c>held</c>, the sequence each agent reported holding (<c>agentId</c>, <c>sequence</c>, <c>reportedAt</c>).
/// Times are RFC 3339 UTC strings, absent ones and empty strings null.
/// </summary>
internal static class FederationOutput
{
    public static void WriteJson(TextWriter writer, FederationStatus status, DateTimeOffset now) =>
        Write(writer, w => WriteObject(w, status, now));

    public static void WriteJson(TextWriter writer, IEnumerable<FederationStatus> statuses, DateTimeOffset now) =>
        Write(writer, w =>
        {
            w.WriteStartArray();
            foreach (var status in statuses)
            {
                WriteObject(w, status, now);
            }

            w.WriteEndArray();
        });

    public static void WriteTable(TextWriter writer, IEnumerable<FederationStatus> statuses, DateTimeOffset now) => Tables.Write(
        writer,
        ["TRUST DOMAIN", "OWNER", "PROFILE", "URL", "SEQUENCE", "LAST REFRESH", "AGE", "MAX STALENESS", "NEXT REFRESH", "LAST ERROR", "ENTRIES", "ALLOWED/DENIED", "LAST SEEN", "FLAGS"],
        statuses.Select(s => new[]
        {
            s.TrustDomain,
            s.Owner,
            s.Profile,
            s.Url,
            s.Sequence.ToString(CultureInfo.InvariantCulture),
            Tables.Time(s.LastRefresh),
            Age(s, now) is { } age ? Durations.Format(Math.Max(age, 1)) : "-",
            Durations.Format(s.MaxStalenessSeconds),
            Tables.Time(s.NextRefresh),
            s.LastError.Length == 0 ? "-" : $"{Tables.Time(s.LastErrorAt)} {s.LastError}",
            s.FederatingEntries.ToString(CultureInfo.InvariantCulture),
            string.Create(CultureInfo.InvariantCulture, $"{s.Usage.Sum(u => u.Allowed)}/{s.Usage.Sum(u => u.Denied)}"),
            Tables.Time(LastSeen(s.Usage)),
            Flags(s),
        }));

    // "+2.5s (the peer is ahead)", "-90.0s (the peer is behind)".
    private static string ClockSkew(long ms) => string.Create(
        CultureInfo.InvariantCulture,
        $"{(ms >= 0 ? "+" : "-")}{Math.Abs(ms) / 1000.0:0.0}s ({(ms >= 0 ? "the peer is ahead" : "the peer is behind")})");

    // "unused" carries its reason, e.g. "unused (no entry federates with it)".
    private static string Flags(FederationStatus s) =>
        Tables.List(s.Flags.Select(f => f == "unused" && s.UnusedReason.Length > 0 ? $"unused ({s.UnusedReason})" : f));

    private static long LastSeen(IEnumerable<ObservedUse> usage) =>
        usage.Select(u => Math.Max(u.LastAllowed, u.LastDenied)).DefaultIfEmpty(0).Max();

    // "3 allowed (last T), 1 denied (last T), 2 agents" for one direction, or "-".
    private static string Use(FederationStatus s, string direction)
    {
        var rows = s.Usage.Where(u => u.Direction == direction).ToList();
        if (rows.Count == 0)
        {
            return "-";
        }

        var allowed = rows.Sum(u => u.Allowed);
        var denied = rows.Sum(u => u.Denied);
        var lastAllowed = rows.Max(u => u.LastAllowed);
        var lastDenied = rows.Max(u => u.LastDenied);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{allowed} allowed{(lastAllowed == 0 ? string.Empty : " (last " + Tables.Time(lastAllowed) + ")")}, {denied} denied{(lastDenied == 0 ? string.Empty : " (last " + Tables.Time(lastDenied) + ")")}, {rows.Select(u => u.AgentId).Distinct(StringComparer.Ordinal).Count()} agent(s)");
    }

    public static void WriteFields(TextWriter writer, FederationStatus s, DateTimeOffset now) => Tables.WriteFields(writer,
    [
        ("trust domain", s.TrustDomain),
        ("name", s.Name),
        ("owner", s.Owner),
        ("profile", s.Profile),
        ("url", s.Url),
        ("endpoint spiffe id", s.EndpointSpiffeId.Length == 0 ? "-" : s.EndpointSpiffeId),
        ("extra ca roots", s.HasCaBundle ? "yes" : "no"),
        ("sequence", s.Sequence.ToString(CultureInfo.InvariantCulture)),
        ("last refresh", Tables.Time(s.LastRefresh)),
        ("age", Age(s, now) is { } age ? Durations.Format(Math.Max(age, 1)) : "-"),
        ("max staleness", Durations.Format(s.MaxStalenessSeconds)),
        ("last attempt", Tables.Time(s.LastAttempt)),
        ("next refresh", Tables.Time(s.NextRefresh)),
        ("last error", s.LastError.Length == 0 ? "-" : s.LastError),
        ("last error at", Tables.Time(s.LastErrorAt)),
        ("consecutive failures", s.ConsecutiveFailures.ToString(CultureInfo.InvariantCulture)),
        ("earliest anchor expiry", Tables.Time(s.EarliestAnchorExpiry)),
        ("federating entries", s.FederatingEntries.ToString(CultureInfo.InvariantCulture)),
        ("flags", Flags(s)),
        ("outbound connections", Use(s, "outbound")),
        ("inbound connections", Use(s, "inbound")),
        ("last seen", Tables.Time(LastSeen(s.Usage))),
        ("unused after", s.UnusedAfterSeconds == 0 ? "-" : Durations.Format(s.UnusedAfterSeconds)),
        ("created", Tables.Time(s.CreatedAt)),
        ("updated", Tables.Time(s.UpdatedAt)),
        ("approval", s.Approval.Length == 0 ? "-" : s.Approval),
        ("approved", s.ApprovedAt == 0 ? "-" : $"{Tables.Time(s.ApprovedAt)} {Approver(s)}"),
        ("approval note", s.ApprovalNote.Length == 0 ? "-" : s.ApprovalNote),
        ("approved authorities", Tables.List(s.ApprovedAuthorities)),
        ("review every", s.ReviewEverySeconds == 0 ? "-" : Durations.Format(s.ReviewEverySeconds)),
        ("review due", Tables.Time(s.ReviewDueAt)),
        ("given to agents", s.Distributed ? "yes" : "no"),
        ("peer refresh hint", Span(s.PeerRefreshHintSeconds)),
        ("poll interval", Span(s.PollIntervalSeconds)),
        ("worst-case revocation", Span(s.WorstCaseRevocationSeconds)),
        ("shortest authority life", Span(s.ShortestAuthorityLifetimeSeconds)),
        ("smallest overlap", !s.HasOverlap ? "-" : s.SmallestOverlapSeconds < 0 ? "gap of " + Durations.Format(-s.SmallestOverlapSeconds) : Durations.Format(s.SmallestOverlapSeconds)),
        ("oldest authority age", Span(s.OldestAuthorityAgeSeconds)),
        ("rotation without overlap", Tables.Time(s.RotationWithoutOverlapAt)),
        ("clock skew", s.HasClockSkew ? ClockSkew(s.ClockSkewMs) : "-"),
        ("sequence changes", SequenceChanges(s)),
    ]);

    // "3 since T (median every 20m, last T)", from the fetch history.
    private static string SequenceChanges(FederationStatus s) =>
        s.FetchHistorySince == 0 ? "-"
        : string.Create(
            CultureInfo.InvariantCulture,
            $"{s.SequenceChanges} since {Tables.Time(s.FetchHistorySince)}{(s.SequenceChanges == 0 ? string.Empty : $" ({(s.MedianSequenceChangeIntervalSeconds > 0 ? "median every " + Durations.Format(s.MedianSequenceChangeIntervalSeconds) + ", " : string.Empty)}last {Tables.Time(s.LastSequenceChangeAt)})")}");

    private static string Span(long seconds) => seconds <= 0 ? "-" : Durations.Format(seconds);

    private static string Approver(FederationStatus s) =>
        s.ApprovedByUid < 0 ? "by the admin api"
        : string.Create(CultureInfo.InvariantCulture, $"by uid {s.ApprovedByUid}{(s.ApprovedBy.Length == 0 ? string.Empty : " (" + s.ApprovedBy + ")")}");

    private static long? Age(FederationStatus s, DateTimeOffset now) =>
        s.LastRefresh == 0 ? null : Math.Max(0, now.ToUnixTimeSeconds() - s.LastRefresh);

    /// <summary>Writes one JSON document (indented) and a newline.</summary>
    public static void Write(TextWriter writer, Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            body(json);
        }

        writer.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>The one JSON object for a relationship, shared by <c>federation list|show</c> and <c>inventory</c>.</summary>
    public static void WriteObject(Utf8JsonWriter w, FederationStatus s, DateTimeOffset now)
    {
        w.WriteStartObject();
        w.WriteString("trustDomain", s.TrustDomain);
        w.WriteString("name", s.Name);
        w.WriteString("owner", s.Owner);
        w.WriteString("profile", s.Profile);
        w.WriteString("url", s.Url);
        w.WriteStringOrNull("endpointSpiffeId", s.EndpointSpiffeId);
        w.WriteNumber("sequence", s.Sequence);
        w.WriteTimeOrNull("lastRefresh", s.LastRefresh);
        w.WriteTimeOrNull("lastAttempt", s.LastAttempt);
        w.WriteStringOrNull("lastError", s.LastError);
        w.WriteTimeOrNull("lastErrorAt", s.LastErrorAt);
        w.WriteTimeOrNull("nextRefresh", s.NextRefresh);
        w.WriteNumber("consecutiveFailures", s.ConsecutiveFailures);
        w.WriteString("maxStaleness", Durations.Format(s.MaxStalenessSeconds));
        w.WriteNumber("maxStalenessSeconds", s.MaxStalenessSeconds);
        w.WriteNumberOrNull("ageSeconds", Age(s, now));
        w.WriteTimeOrNull("earliestAnchorExpiry", s.EarliestAnchorExpiry);
        w.WriteNumber("federatingEntries", s.FederatingEntries);
        w.WriteStrings("flags", s.Flags);
        w.WriteBoolean("hasCaBundle", s.HasCaBundle);
        w.WriteTimeOrNull("createdAt", s.CreatedAt);
        w.WriteTimeOrNull("updatedAt", s.UpdatedAt);
        w.WriteString("approval", s.Approval);
        w.WriteTimeOrNull("approvedAt", s.ApprovedAt);
        w.WriteNumberOrNull("approvedByUid", s.ApprovedByUid >= 0 && s.ApprovedAt != 0, s.ApprovedByUid);
        w.WriteStringOrNull("approvedBy", s.ApprovedBy);
        w.WriteStringOrNull("approvalNote", s.ApprovalNote);
        w.WriteStrings("approvedAuthorities", s.ApprovedAuthorities);
        w.WriteNumber("reviewEverySeconds", s.ReviewEverySeconds);
        w.WriteTimeOrNull("reviewDueAt", s.ReviewDueAt);
        w.WriteBoolean("distributed", s.Distributed);
        w.WriteStartObject("coherence");
        w.WriteNumber("peerRefreshHintSeconds", s.PeerRefreshHintSeconds);
        w.WriteNumber("pollIntervalSeconds", s.PollIntervalSeconds);
        w.WriteNumber("worstCaseRevocationSeconds", s.WorstCaseRevocationSeconds);
        w.WriteNumber("shortestAuthorityLifetimeSeconds", s.ShortestAuthorityLifetimeSeconds);
        w.WriteNumberOrNull("smallestOverlapSeconds", s.HasOverlap, s.SmallestOverlapSeconds);
        w.WriteNumber("oldestAuthorityAgeSeconds", s.OldestAuthorityAgeSeconds);
        w.WriteTimeOrNull("rotationWithoutOverlapAt", s.RotationWithoutOverlapAt);
        w.WriteNumberOrNull("clockSkewSeconds", s.HasClockSkew, s.ClockSkewMs / 1000.0);
        w.WriteNumber("sequenceChanges", s.SequenceChanges);
        w.WriteNumberOrNull("medianSequenceChangeIntervalSeconds", s.MedianSequenceChangeIntervalSeconds > 0, s.MedianSequenceChangeIntervalSeconds);
        w.WriteTimeOrNull("lastSequenceChangeAt", s.LastSequenceChangeAt);
        w.WriteTimeOrNull("fetchHistorySince", s.FetchHistorySince);
        w.WriteEndObject();
        w.WriteStringOrNull("unusedReason", s.UnusedReason);
        w.WriteNumber("unusedAfterSeconds", s.UnusedAfterSeconds);
        w.WriteTimeOrNull("lastSeen", LastSeen(s.Usage));
        w.WriteObjects("observedUse", s.Usage, static (w, u) =>
        {
            w.WriteString("agentId", u.AgentId);
            w.WriteString("direction", u.Direction);
            w.WriteString("listener", u.Listener);
            w.WriteNumber("allowed", u.Allowed);
            w.WriteNumber("denied", u.Denied);
            w.WriteTimeOrNull("lastAllowed", u.LastAllowed);
            w.WriteTimeOrNull("lastDenied", u.LastDenied);
            w.WriteTimeOrNull("reportedAt", u.ReportedAt);
        });
        FederationHistoryOutput.WriteJson(w, s);
        w.WriteObjects("held", s.Held, static (w, h) =>
        {
            w.WriteString("agentId", h.AgentId);
            w.WriteNumber("sequence", h.Sequence);
            w.WriteTimeOrNull("reportedAt", h.ReportedAt);
        });
        w.WriteEndObject();
    }
}
