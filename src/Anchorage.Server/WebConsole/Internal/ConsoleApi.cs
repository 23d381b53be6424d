using System.Globalization;
using System.Text.Json;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Federation;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.WebConsole.Internal;

/// <summary>
/// The console's read-only JSON API. Every answer is built from the admin API's own read methods
/// (the views behind <c>federation show</c>, <c>inventory</c>, <c>authority list</c>, <c>entry list</c>,
/// <c>agent list</c>), written as proto3 JSON (camelCase, 64-bit integers as strings, default values
/// included) inside a small envelope; fields added to those messages later appear here unchanged.
/// Lists are bounded (<see cref="MaxLimit"/>) and say when they were cut.
/// </summary>
internal sealed class ConsoleApi(AdminApiService admin, TimeProvider time)
{
    /// <summary>The default and the most items of a list answer.</summary>
    public const int DefaultLimit = 100;

    /// <summary>The most items a list answer may be asked for.</summary>
    public const int MaxLimit = 500;

    /// <summary>The most entries one search reads before it stops (and says it was cut).</summary>
    public const int MaxEntriesScanned = 20_000;

    /// <summary>The longest search text.</summary>
    public const int MaxQueryLength = 200;

    private const int EntryPageSize = 1000;

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>
    /// The graph: the local trust domain, its bundle endpoint, and each relationship with its status
    /// and <c>edgeState</c> (<see cref="EdgeState"/>).
    /// </summary>
    public async Task<string> GraphAsync(CancellationToken ct)
    {
        var info = await admin.GetServerInfo(new GetServerInfoRequest(), Context("GetServerInfo", ct)).ConfigureAwait(false);
        var federations = await admin.ListFederations(new ListFederationsRequest(), Context("ListFederations", ct)).ConfigureAwait(false);
        return Write(w =>
        {
            w.WriteString("trustDomain", info.TrustDomain);
            w.WriteNumber("now", time.GetUtcNow().ToUnixTimeSeconds());
            w.WritePropertyName("server");
            w.WriteRawValue(Formatter.Format(info));
            w.WriteStartArray("federations");
            foreach (var status in federations.Federations)
            {
                WriteFederation(w, status);
            }

            w.WriteEndArray();
        });
    }

    /// <summary>
    /// One relationship (the relationship page): its status and edge state, what <c>federation show</c>
    /// prints, and its enforcement <c>map</c>, what <c>federation map --output json</c> prints (the same
    /// <see cref="FederationMapView"/> and <see cref="FederationMapJson"/>).
    /// </summary>
    public async Task<string> FederationAsync(string trustDomain, CancellationToken ct)
    {
        var map = await FederationMapView.LoadAsync(new ConsoleMapSource(admin), trustDomain, ct).ConfigureAwait(false);
        return Write(w =>
        {
            w.WriteNumber("now", time.GetUtcNow().ToUnixTimeSeconds());
            w.WritePropertyName("federation");
            WriteFederation(w, map.Status);
            w.WritePropertyName("map");
            FederationMapJson.Write(w, map);
        });
    }

    /// <summary>The local X.509 and JWT authorities (without their certificates), the revoked ones the datastore remembers included.</summary>
    public async Task<string> AuthoritiesAsync(CancellationToken ct)
    {
        var response = await admin.ListAuthorities(new ListAuthoritiesRequest { IncludeRevoked = true }, Context("ListAuthorities", ct)).ConfigureAwait(false);
        return Write(w =>
        {
            w.WriteNumber("now", time.GetUtcNow().ToUnixTimeSeconds());
            w.WriteStartArray("authorities");
            foreach (var authority in response.Authorities)
            {
                var shown = authority.Clone();
                shown.Certificate = ByteString.Empty;
                w.WriteRawValue(Formatter.Format(shown));
            }

            w.WriteEndArray();
        });
    }

    /// <summary>Entries whose id, SPIFFE ID, parent, selectors, federated domains or DNS names contain <paramref name="query"/>.</summary>
    public async Task<string> EntriesAsync(string query, int limit, CancellationToken ct)
    {
        var found = new List<Common.Entry>();
        var scanned = 0;
        var truncated = false;
        var token = string.Empty;
        do
        {
            var page = await admin.ListEntries(
                new ListEntriesRequest { PageSize = EntryPageSize, PageToken = token }, Context("ListEntries", ct)).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                scanned++;
                if (Matches(query, [entry.Id, entry.SpiffeId, entry.ParentId, entry.Hint, .. entry.Selectors.Select(Text), .. entry.FederatesWith, .. entry.DnsNames]))
                {
                    if (found.Count == limit)
                    {
                        truncated = true;
                        break;
                    }

                    found.Add(entry);
                }
            }

            token = page.NextPageToken;
            if (token.Length > 0 && scanned >= MaxEntriesScanned)
            {
                truncated = true;
            }
        }
        while (!truncated && token.Length > 0);

        return Write(w =>
        {
            w.WriteStartArray("entries");
            foreach (var entry in found)
            {
                w.WriteRawValue(Formatter.Format(entry));
            }

            w.WriteEndArray();
            w.WriteBoolean("truncated", truncated);
        });
    }

    /// <summary>Agents whose SPIFFE ID, attestation type or selectors contain <paramref name="query"/>.</summary>
    public async Task<string> AgentsAsync(string query, int limit, CancellationToken ct)
    {
        var response = await admin.ListAgents(new ListAgentsRequest(), Context("ListAgents", ct)).ConfigureAwait(false);
        var matching = response.Agents.Where(a => Matches(query, [a.SpiffeId, a.AttestationType, .. a.Selectors.Select(Text)]));
        var shown = matching.Take(limit + 1).ToList();
        return Write(w =>
        {
            w.WriteNumber("now", time.GetUtcNow().ToUnixTimeSeconds());
            w.WriteStartArray("agents");
            foreach (var agent in shown.Take(limit))
            {
                w.WriteRawValue(Formatter.Format(agent));
            }

            w.WriteEndArray();
            w.WriteBoolean("truncated", shown.Count > limit);
        });
    }

    /// <summary>
    /// The one colour of a relationship's edge, the most urgent that holds: <c>stale</c>,
    /// <c>slow-revocation</c>, <c>review-due</c>, <c>pending</c>, <c>unused</c>, else <c>approved</c>
    /// (approved, or no approval required).
    /// </summary>
    public static string EdgeState(Protos.Admin.V1.FederationStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        string[] byUrgency = [FederationStatusView.Stale, FederationCoherence.SlowRevocation, FederationApprovalRules.ReviewDue];
        foreach (var flag in byUrgency)
        {
            if (status.Flags.Contains(flag))
            {
                return flag;
            }
        }

        if (status.Approval == FederationApprovalRules.Pending)
        {
            return FederationApprovalRules.Pending;
        }

        return status.Flags.Contains(FederationStatusView.Unused) ? FederationStatusView.Unused : FederationApprovalRules.Approved;
    }

    /// <summary>
    /// Reads <c>q</c> and <c>limit</c>; an error message when one is out of range.
    /// </summary>
    public static string? ReadListQuery(IQueryCollection query, out string text, out int limit)
    {
        text = query["q"].ToString();
        limit = DefaultLimit;
        if (text.Length > MaxQueryLength)
        {
            return $"q: at most {MaxQueryLength} characters";
        }

        var limitText = query["limit"].ToString();
        if (limitText.Length > 0
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
        {
            limit = DefaultLimit;
            return $"limit: must be a number from 1 to {MaxLimit}";
        }

        return null;
    }

    /// <summary>The HTTP status and message of a refusal from the admin service.</summary>
    public static (int Status, string Message)? ToHttp(Exception exception) => exception switch
    {
        ApiException { Code: StatusCode.NotFound } e => (StatusCodes.Status404NotFound, e.Message),
        ApiException { Code: StatusCode.InvalidArgument } e => (StatusCodes.Status400BadRequest, e.Message),
        ApiException { Code: StatusCode.Unavailable } e => (StatusCodes.Status503ServiceUnavailable, e.Message),
        _ => null,
    };

    /// <summary><c>{"error": message}</c>.</summary>
    public static string Error(string message) => Write(w => w.WriteString("error", message));

    private static void WriteFederation(Utf8JsonWriter w, Protos.Admin.V1.FederationStatus status)
    {
        w.WriteStartObject();
        w.WriteString("edgeState", EdgeState(status));
        w.WritePropertyName("status");
        w.WriteRawValue(Formatter.Format(status));
        w.WriteEndObject();
    }

    private static string Text(Common.Selector selector) => selector.Type + ":" + selector.Value;

    private static bool Matches(string query, IEnumerable<string> fields) =>
        query.Length == 0 || fields.Any(f => f.Contains(query, StringComparison.OrdinalIgnoreCase));

    private static ConsoleCallContext Context(string method, CancellationToken ct) => ConsoleMapSource.Context(method, ct);

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
