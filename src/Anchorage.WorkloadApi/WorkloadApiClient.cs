namespace Anchorage.WorkloadApi;

/// <summary>A client of the SPIFFE Workload API (placeholder until the SDK lands).</summary>
public sealed class WorkloadApiClient
{
}
