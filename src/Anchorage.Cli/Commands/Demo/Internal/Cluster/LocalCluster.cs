using Anchorage.Foundation.Files;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// Trust domains and their nodes on this machine, each server and agent an <c>anchorage</c> child
/// process with its own config, in one working directory on loopback: what <c>anchorage demo</c>
/// runs its steps over, and what integration tests start instead of their own process control.
/// Disposing stops every child (newest first) and removes the directory unless <see cref="Keep"/>.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    /// <summary>How long a server, an agent or a service is given to come up.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long a change is given to reach every part (bundles, SVIDs, audit lines).</summary>
    public static readonly TimeSpan ConvergeTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan AuditTimeout = TimeSpan.FromSeconds(10);

    private readonly List<ChildProcess> _children = [];

    /// <param name="dir">The working directory (it must exist); removed on dispose unless <see cref="Keep"/>.</param>
    /// <param name="anchorage">How to start <c>anchorage</c> (the demo: itself; a test: the Release build's dll).</param>
    /// <param name="context">The CLI context the operator verbs run with (its clock).</param>
    /// <param name="console">Where the commands run and what they print are shown.</param>
    public LocalCluster(string dir, SelfCommand anchorage, CliContext context, DemoConsole console)
    {
        Dir = dir;
        Anchorage = anchorage;
        Console = console;
        Uid = ClusterFiles.OwnUid();
        Cli = new OperatorCli(context, console, Short);
        Workloads = new Workloads(this);
    }

    /// <summary>The working directory: one subdirectory per trust domain, one per node under it.</summary>
    public string Dir { get; }

    /// <summary>How <c>anchorage</c> is started: servers, agents and workloads alike.</summary>
    public SelfCommand Anchorage { get; }

    public DemoConsole Console { get; }

    /// <summary>This process's uid: the admin uid of every server and agent, and the workloads' uid.</summary>
    public uint Uid { get; }

    /// <summary>Operator verbs against the domains' admin sockets.</summary>
    public OperatorCli Cli { get; }

    /// <summary>Workload processes run on the nodes.</summary>
    public Workloads Workloads { get; }

    /// <summary>Keep the working directory (configs, logs, audit files) on dispose.</summary>
    public bool Keep { get; init; }

    /// <summary>Starts <paramref name="command"/> as a child of the cluster, stopped on dispose.</summary>
    public ChildProcess Start(string name, SelfCommand command, IEnumerable<string> args, string log, bool redirectInput = false)
    {
        var child = ChildProcess.Start(name, command, args, log, redirectInput);
        _children.Add(child);
        return child;
    }

    /// <summary>Writes server.yaml for <paramref name="trustDomain"/> and starts its server (see <see cref="WaitHealthyAsync(ClusterDomain, CancellationToken)"/>).</summary>
    public async Task<ClusterDomain> StartServerAsync(string trustDomain, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(Dir, trustDomain, "server");
        ClusterFiles.MakeDirectory(dir);
        var bundlePort = DemoEndpoint.FreeLoopbackPort();
        var agentApi = DemoEndpoint.Loopback(DemoEndpoint.FreeLoopbackPort());
        var config = Path.Combine(dir, "server.yaml");
        await ClusterFiles.WriteAsync(config, ClusterYaml.Server(trustDomain, dir, agentApi, bundlePort, Uid), cancellationToken).ConfigureAwait(false);
        var server = Start($"the {trustDomain} server", Anchorage, ["server", "run", "--config", config], Path.Combine(dir, "server.log"));
        Console.Command($"anchorage server run --config {Short(config)}", $"pid {server.Pid}");
        return new ClusterDomain(trustDomain, dir, Path.Combine(dir, "data", "admin.sock"), agentApi, bundlePort, server);
    }

    /// <summary>Waits until <paramref name="domain"/>'s server answers as itself and says healthy.</summary>
    public async Task WaitHealthyAsync(ClusterDomain domain, CancellationToken cancellationToken) =>
        await Poll.UntilAsync(
            async ct =>
            {
                if (domain.Server.HasExited)
                {
                    throw new DemoStepException($"the {domain.Name} server exited with {domain.Server.ExitCode}: {domain.Server.Tail()}");
                }

                if (!File.Exists(domain.AdminSocket))
                {
                    return false;
                }

                try
                {
                    var info = await OperatorCli.AdminAsync(domain, (c, o) => c.GetServerInfoAsync(new GetServerInfoRequest(), o), ct).ConfigureAwait(false);
                    return info.TrustDomain != domain.Name
                        ? throw new DemoStepException($"the server on {Short(domain.AdminSocket)} says it is {info.TrustDomain}")
                        : (await Cli.RunAsync(domain, ["server", "healthcheck"], show: false, ct).ConfigureAwait(false)).ExitCode == 0;
                }
                catch (CliException)
                {
                    return false; // Not accepting calls yet.
                }
            },
            StartTimeout,
            TimeSpan.FromMilliseconds(200),
            () => $"the {domain.Name} server was not healthy within {StartTimeout.TotalSeconds:0} s: {domain.Server.Tail()}",
            cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Generates a join token on <paramref name="domain"/>, writes agent.yaml for node <paramref name="name"/>
    /// (bootstrap bundle from the server, a gate auditing to audit.jsonl with the listener lines
    /// <paramref name="gateListeners"/> gives for the node's out/ directory) and starts its agent
    /// (see <see cref="WaitHealthyAsync(ClusterNode, CancellationToken)"/>).
    /// </summary>
    public async Task<ClusterNode> StartAgentAsync(ClusterDomain domain, string name, Func<string, string> gateListeners, CancellationToken cancellationToken, string? attestation = null)
    {
        var token = await OperatorCli.AdminAsync(domain, (c, o) => c.GenerateJoinTokenAsync(new GenerateJoinTokenRequest(), o), cancellationToken).ConfigureAwait(false);
        var dir = Path.Combine(Dir, domain.Name, name);
        var outDir = Path.Combine(dir, "out");
        ClusterFiles.MakeDirectory(outDir);

        // A workload running as another user walks to the gate's socket.
        ClusterFiles.Chmod(Path.Combine(Dir, domain.Name), ClusterFiles.TraversableMode);
        ClusterFiles.Chmod(dir, ClusterFiles.TraversableMode);
        ClusterFiles.Chmod(outDir, ClusterFiles.TraversableMode);
        var bundle = await OperatorCli.AdminAsync(domain, (c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
        var bundleFile = Path.Combine(dir, "bootstrap-bundle.json");
        await SafeFile.WriteAsync(bundleFile, bundle.SpiffeBundleJson.Memory, SafeFile.PublicMode, cancellationToken).ConfigureAwait(false);
        var audit = Path.Combine(dir, "audit.jsonl");
        var config = Path.Combine(dir, "agent.yaml");
        var yaml = ClusterYaml.Agent(domain.Name, dir, domain.AgentApi, token.Token, bundleFile, Uid, audit, gateListeners(outDir), attestation);
        await ClusterFiles.WriteAsync(config, yaml, cancellationToken).ConfigureAwait(false);
        var agent = Start($"the {domain.Name} agent on {name}", Anchorage, ["agent", "run", "--config", config], Path.Combine(dir, "agent.log"));
        Console.Command($"anchorage agent run --config {Short(config)}", $"pid {agent.Pid}, joins as {token.AgentSpiffeId}");
        return new ClusterNode(name, domain, dir, Path.Combine(dir, "api.sock"), token.AgentSpiffeId, audit, Path.Combine(outDir, "payments.sock"), agent);
    }

    /// <summary>Waits until <paramref name="node"/>'s agent serves its Workload API and says healthy.</summary>
    public async Task WaitHealthyAsync(ClusterNode node, CancellationToken cancellationToken) =>
        await Poll.UntilAsync(
            async ct => node.Agent.HasExited
                ? throw new DemoStepException($"{node.Agent.Name} exited with {node.Agent.ExitCode}: {node.Agent.Tail()}")
                : File.Exists(node.ApiSocket)
                    && (await Cli.RunAsync(null, ["agent", "healthcheck", "--socket", node.ApiSocket], show: false, ct).ConfigureAwait(false)).ExitCode == 0,
            StartTimeout,
            TimeSpan.FromMilliseconds(200),
            () => $"{node.Agent.Name} was not healthy within {StartTimeout.TotalSeconds:0} s: {node.Agent.Tail()}",
            cancellationToken).ConfigureAwait(false);

    /// <summary>Waits (10 s) for a record in <paramref name="node"/>'s gate audit file that satisfies <paramref name="match"/>.</summary>
    public async Task<AuditLine> WaitAuditAsync(ClusterNode node, Func<AuditLine, bool> match, string what, CancellationToken cancellationToken)
    {
        AuditLine? found = null;
        await Poll.UntilAsync(
            () => (found = AuditLine.ReadAll(node.AuditFile).FirstOrDefault(match)) is not null,
            AuditTimeout,
            TimeSpan.FromMilliseconds(100),
            () => $"no {what} in {Short(node.AuditFile)} within {AuditTimeout.TotalSeconds:0} s",
            cancellationToken).ConfigureAwait(false);
        return found!;
    }

    /// <summary>Waits (<see cref="ConvergeTimeout"/>) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitAsync(Func<bool> condition, string what, CancellationToken cancellationToken) =>
        await Poll.UntilAsync(condition, ConvergeTimeout, TimeSpan.FromMilliseconds(50), () => $"timed out after {ConvergeTimeout.TotalSeconds:0} s waiting for {what}", cancellationToken).ConfigureAwait(false);

    /// <summary>A path under the working directory, relative to it (for display).</summary>
    public string Short(string text) => text.Replace(Dir + "/", string.Empty, StringComparison.Ordinal);

    /// <summary>Stops every child, newest first (agents before their servers).</summary>
    public async ValueTask StopAllAsync()
    {
        for (var i = _children.Count - 1; i >= 0; i--)
        {
            await _children[i].DisposeAsync().ConfigureAwait(false);
        }

        _children.Clear();
    }

    /// <summary>Stops every child and removes the working directory unless <see cref="Keep"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAllAsync().ConfigureAwait(false);
        if (Keep)
        {
            return;
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A child still writing; one retry after it is gone.
            await Task.Delay(500, CancellationToken.None).ConfigureAwait(false);
            Directory.Delete(Dir, recursive: true);
        }
    }
}
