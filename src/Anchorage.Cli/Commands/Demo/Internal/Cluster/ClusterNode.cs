namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>One node of a trust domain: its agent, a child process, and the files its gate and workloads use.</summary>
/// <param name="Name">The node's name (its directory under the domain's).</param>
/// <param name="Domain">The trust domain it joined.</param>
/// <param name="Dir">The agent's directory (agent.yaml, agent.log, data/).</param>
/// <param name="ApiSocket">The Workload API socket.</param>
/// <param name="AgentId">The agent's SPIFFE ID (from its join token): the parent of the node's entries.</param>
/// <param name="AuditFile">The gate's audit file (JSON lines).</param>
/// <param name="OutboundSocket">The gate's outbound listener, when the node has one (out/payments.sock).</param>
/// <param name="Agent">The agent process.</param>
internal sealed record ClusterNode(string Name, ClusterDomain Domain, string Dir, string ApiSocket, string AgentId, string AuditFile, string OutboundSocket, ChildProcess Agent);
