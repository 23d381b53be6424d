namespace Anchorage.Server.Federation;

/// <summary>
/// The sequence of a federated trust domain's bundle that one agent last reported holding (issue 15
/// item 4): what its Workload API and gate validate that domain's SVIDs with, as opposed to the
/// sequence the server serves. Reported with each sync that changes it (agent API <c>ReportUsage</c>).
/// </summary>
/// <param name="AgentId">The reporting agent's SPIFFE ID.</param>
/// <param name="Sequence">The <c>spiffe_sequence</c> of the bundle it holds (0 when the bundle has none).</param>
/// <param name="ReportedAt">When the server stored the report.</param>
public sealed record FederationHeldBundle(string AgentId, ulong Sequence, DateTimeOffset ReportedAt);
