namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>One trust domain of the cluster: its server, a child process, and where to reach it.</summary>
/// <param name="Name">The trust domain name.</param>
/// <param name="Dir">The server's directory (server.yaml, server.log, data/).</param>
/// <param name="AdminSocket">The server's admin socket.</param>
/// <param name="AgentApi">The agent API's address (host:port) the domain's agents dial.</param>
/// <param name="BundlePort">The https_spiffe bundle endpoint's port on 127.0.0.1.</param>
/// <param name="Server">The server process.</param>
internal sealed record ClusterDomain(string Name, string Dir, string AdminSocket, string AgentApi, int BundlePort, ChildProcess Server);
