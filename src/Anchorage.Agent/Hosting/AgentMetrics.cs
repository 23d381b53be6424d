using System.Diagnostics.Metrics;

namespace Anchorage.Agent.Hosting;

/// <summary>
/// The agent's instruments on the <c>Anchorage.Agent</c> meter (<see cref="AgentHost.MeterName"/>),
/// exported on <c>/metrics</c>. The host counts Workload API calls, attestation failures, starts
/// and admin refusals; the identity cache counts issuance, rotation and sync failures.
/// </summary>
public sealed class AgentMetrics
{
    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public AgentMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(AgentHost.MeterName);
        Starts = meter.CreateCounter<long>("anchorage.agent.starts", description: "Times this agent process started its listeners.");
        WorkloadApiCalls = meter.CreateCounter<long>(
            "anchorage.agent.workload_api.calls", description: "Workload API calls, by method and outcome (gRPC status code name).");
        AttestationFailures = meter.CreateCounter<long>(
            "anchorage.agent.attestation.failures", description: "Workload API calls whose caller could not be found or attested.");
        SvidsIssued = meter.CreateCounter<long>("anchorage.agent.svids.issued", description: "Workload X.509-SVIDs received from the server.");
        SvidRotations = meter.CreateCounter<long>("anchorage.agent.svid.rotations", description: "Workload X.509-SVIDs replaced before they expired.");
        SyncFailures = meter.CreateCounter<long>("anchorage.agent.sync.failures", description: "Entry or bundle syncs with the server that failed.");
        WorkloadApiRefused = meter.CreateCounter<long>(
            "anchorage.agent.workload_api.refused",
            description: "Workload API connections closed over a cap (reason=connections) and calls over a uid's budget (reason=rate).");
        AdminRefused = meter.CreateCounter<long>(
            "anchorage.agent.admin.refused", description: "Admin socket requests refused because the caller's uid is not an admin.");
    }

    /// <summary>Times the host started its listeners.</summary>
    public Counter<long> Starts { get; }

    /// <summary>Workload API calls; tags <c>method</c> (e.g. <c>FetchX509SVID</c>) and <c>outcome</c> (e.g. <c>OK</c>, <c>PermissionDenied</c>).</summary>
    public Counter<long> WorkloadApiCalls { get; }

    /// <summary>Callers that could not be found or attested (no identity given).</summary>
    public Counter<long> AttestationFailures { get; }

    /// <summary>Workload SVIDs received from the server.</summary>
    public Counter<long> SvidsIssued { get; }

    /// <summary>Workload SVIDs rotated.</summary>
    public Counter<long> SvidRotations { get; }

    /// <summary>Failed syncs with the server.</summary>
    public Counter<long> SyncFailures { get; }

    /// <summary>Workload API connections and calls refused by a limit; tag <c>reason</c> (<c>connections</c>, <c>rate</c>).</summary>
    public Counter<long> WorkloadApiRefused { get; }

    /// <summary>Admin requests refused by uid.</summary>
    public Counter<long> AdminRefused { get; }

    /// <summary>Counts one Workload API call.</summary>
    /// <param name="method">The RPC name, e.g. <c>FetchX509SVID</c>.</param>
    /// <param name="outcome">The gRPC status code name, e.g. <c>OK</c>.</param>
    public void RecordWorkloadApiCall(string method, string outcome) =>
        WorkloadApiCalls.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome));
}
