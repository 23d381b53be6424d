using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;
using Grpc.Core;

namespace Anchorage.Server.Api;

/// <summary>Observed use (issue 15 item 3): agents report what they saw of each federated trust domain.</summary>
public sealed partial class AgentApiService
{
    /// <summary>The most rows one report may carry (the agent keeps at most as many).</summary>
    public const int MaxUsageRows = 1024;

    /// <summary>
    /// Adds the caller's report to the stored totals (<see cref="DataStore.IDataStore.AddUsageAsync"/>)
    /// and, when it reports them, replaces the federated bundle sequences it holds
    /// (<see cref="DataStore.IDataStore.SetHeldBundlesAsync"/>). Every row is checked first; one bad row
    /// refuses the whole report with <c>InvalidArgument</c> naming it, and nothing is stored.
    /// </summary>
    public override async Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var (node, _) = await _authenticator.AuthenticateAsync(context, ct).ConfigureAwait(false);
        if (request.Usage.Count > MaxUsageRows)
        {
            throw ApiException.InvalidArgument($"usage has {request.Usage.Count} rows; at most {MaxUsageRows}");
        }

        var rows = new List<FederationUsage>(request.Usage.Count);
        for (var i = 0; i < request.Usage.Count; i++)
        {
            rows.Add(ReadUsage(request.Usage[i], i));
        }

        if (request.Held.Count > MaxUsageRows)
        {
            throw ApiException.InvalidArgument($"held has {request.Held.Count} rows; at most {MaxUsageRows}");
        }

        var held = new List<(TrustDomain, ulong)>(request.Held.Count);
        for (var i = 0; i < request.Held.Count; i++)
        {
            if (!TrustDomain.TryParse(request.Held[i].TrustDomain, out var heldDomain, out var error))
            {
                throw ApiException.InvalidArgument($"held[{i}].trustDomain is not a trust domain: {error}");
            }

            held.Add((heldDomain, request.Held[i].Sequence));
        }

        var stored = rows.Count == 0 ? 0 : await _store.AddUsageAsync(node.SpiffeId, rows, ct).ConfigureAwait(false);
        if (request.ReportsHeld)
        {
            await _store.SetHeldBundlesAsync(node.SpiffeId, held, ct).ConfigureAwait(false);
        }

        return new ReportUsageResponse { Stored = stored };
    }

    private static FederationUsage ReadUsage(TrustDomainUsage row, int index)
    {
        if (!TrustDomain.TryParse(row.TrustDomain, out var trustDomain, out var error))
        {
            throw ApiException.InvalidArgument($"usage[{index}].trustDomain is not a trust domain: {error}");
        }

        if (!FederationUsage.IsDirection(row.Direction))
        {
            throw ApiException.InvalidArgument($"usage[{index}].direction must be inbound or outbound");
        }

        if (row.Listener.Length > FederationUsage.MaxListenerLength || row.Listener.Any(char.IsControl))
        {
            throw ApiException.InvalidArgument($"usage[{index}].listener must be at most {FederationUsage.MaxListenerLength} characters without control characters");
        }

        if (row.Allowed < 0 || row.Denied < 0 || row.LastAllowed < 0 || row.LastDenied < 0
            || row.LastAllowed > MaxUnixSeconds || row.LastDenied > MaxUnixSeconds)
        {
            throw ApiException.InvalidArgument($"usage[{index}]: counts and times must not be negative or out of range");
        }

        return new FederationUsage(
            trustDomain,
            string.Empty,
            row.Direction,
            row.Allowed,
            row.Denied,
            row.LastAllowed == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(row.LastAllowed),
            row.LastDenied == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(row.LastDenied),
            default)
        {
            Listener = row.Listener,
        };
    }

    // DateTimeOffset.MaxValue in unix seconds.
    private const long MaxUnixSeconds = 253402300799;
}
