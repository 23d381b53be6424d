using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// One trust domain as an operator runs it: <c>anchorage server run --config server.yaml</c> and
/// <c>anchorage agent run --config agent.yaml</c> as child processes, inside network namespace
/// <see cref="Netns"/> when given (else on loopback), listening on <see cref="Address"/>. The
/// server's bundle endpoint listens on port 0 of that address; its bound address is read back
/// with <c>anchorage inventory --output json</c>. Admin and Workload API sockets are unix files in
/// <see cref="Dir"/>, so the CLI reaches them from the root namespace.
/// </summary>
internal sealed class ProcessDomain : IDisposable
{
    private ChildProcess? _server;
    private ChildProcess? _agent;
    private int _agentApiPort;

    private ProcessDomain(TrustDomain td, string dir, string? netns, string address)
    {
        TrustDomain = td;
        Dir = dir;
        Netns = netns;
        Address = address;
    }

    public TrustDomain TrustDomain { get; }

    public string Dir { get; }

    public string? Netns { get; }

    public string Address { get; }

    public string AdminSocket => Path.Combine(Dir, "admin.sock");

    public string WorkloadSocket => Path.Combine(Dir, "api.sock");

    /// <summary>The bundle endpoint's bound address (host:port), as <c>anchorage inventory</c> reports it.</summary>
    public string BundleEndpoint { get; private set; } = "";

    /// <summary>
    /// Writes server.yaml (bundle refresh hint <paramref name="refreshHint"/>, refresh floor 1 s,
    /// an https_spiffe bundle endpoint on ADDRESS:0) and starts the server; returns once it is healthy.
    /// </summary>
    public static async Task<ProcessDomain> StartAsync(TrustDomain td, string parentDir, string? netns, string address, string refreshHint)
    {
        var dir = Path.Combine(parentDir, td.Name);
        Directory.CreateDirectory(dir);
        var domain = new ProcessDomain(td, dir, netns, address);
        try
        {
            await domain.StartServerAsync(refreshHint);
            return domain;
        }
        catch
        {
            domain.Dispose();
            throw;
        }
    }

    /// <summary>Runs <c>anchorage ARGS --socket ADMIN</c> (the CLI, in-process) against this domain's server.</summary>
    public async Task<CliResult> CliAsync(params string[] args)
    {
        var result = await TestServer.RunCliAsync([.. args, "--socket", AdminSocket]);
        Assert.True(result.ExitCode == 0, $"{TrustDomain.Name}: anchorage {string.Join(' ', args)} exited {result.ExitCode}: {result.Error}{result.Out}");
        return result;
    }

    /// <summary><see cref="CliAsync"/> and parse stdout as JSON.</summary>
    public async Task<JsonNode> JsonAsync(params string[] args) => JsonNode.Parse((await CliAsync(args)).Out)!;

    /// <summary>
    /// Creates a join token and a workload entry for this process's uid at <paramref name="path"/>
    /// under the agent it yields (federating with <paramref name="federatesWith"/>), then writes
    /// agent.yaml (sync 1 s, trust bundle from <c>bundle show</c>) and starts the agent.
    /// </summary>
    public Task StartAgentAsync(string path, params TrustDomain[] federatesWith) => StartAgentAsync(path, "", false, federatesWith);

    /// <summary>
    /// As <see cref="StartAgentAsync(string, TrustDomain[])"/>, with <paramref name="extraYaml"/>
    /// (top-level keys, e.g. a gate section) appended to agent.yaml; with <paramref name="hostMounts"/>
    /// the agent enters only the network namespace and keeps the host's mounts (bpffs).
    /// </summary>
    public async Task StartAgentAsync(string path, string extraYaml, bool hostMounts, params TrustDomain[] federatesWith)
    {
        var token = await JsonAsync("token", "generate", "--output", "json");
        var agentId = token["agentSpiffeId"]!.GetValue<string>();
        string[] federation = [.. federatesWith.SelectMany(td => (string[])["--federates-with", td.Name])];
        await CliAsync(["entry", "create", "--spiffe-id", SpiffeId.FromPath(TrustDomain, path).ToString(), "--parent-id", agentId,
            "--selector", $"unix:uid:{TestServer.OwnUid()}", .. federation]);

        var bundleFile = Path.Combine(Dir, "agent-bootstrap.json");
        await File.WriteAllTextAsync(bundleFile, (await CliAsync("bundle", "show", "--format", "spiffe")).Out);
        var config = Path.Combine(Dir, "agent.yaml");
        await File.WriteAllTextAsync(config, $"""
            trustDomain: {TrustDomain.Name}
            dataDir: {Path.Combine(Dir, "agent")}
            serverAddress: {Address}:{_agentApiPort}
            joinToken: "{token["token"]!.GetValue<string>()}"
            trustBundleFile: {bundleFile}
            syncInterval: 1s
            workloadApi:
              socket: {WorkloadSocket}
            listen:
              adminSocket: {Path.Combine(Dir, "agent-admin.sock")}
              health: 127.0.0.1:0
            adminUids: [{TestServer.OwnUid()}]
            {extraYaml}
            """);
        _agent = hostMounts && Netns is not null
            ? await AnchorageProcess.StartKeepingMountsAsync($"{TrustDomain.Name} agent", Netns, "agent", "run", "--config", config)
            : await AnchorageProcess.StartAsync($"{TrustDomain.Name} agent", Netns, "agent", "run", "--config", config);
        await WaitAsync(_agent, async () => File.Exists(WorkloadSocket) && (await TestServer.RunCliAsync("agent", "healthcheck", "--socket", WorkloadSocket)).ExitCode == 0);
    }

    /// <summary>
    /// <c>anchorage agent api fetch x509 --write DIR</c> run as a workload process of this domain
    /// (in its namespace); retried (20 s bound) until it succeeds and <paramref name="done"/> (given DIR) holds.
    /// </summary>
    public async Task<string> FetchX509Async(string dir, Func<string, bool>? done = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            var result = await AnchorageProcess.RunAsync(Netns, "agent", "api", "fetch", "x509", "--socket", WorkloadSocket, "--write", dir);
            if (result.ExitCode == 0 && (done is null || done(dir)))
            {
                return dir;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{TrustDomain.Name}: fetch x509 did not give what was expected: {result.ExitCode} {result.Error}{result.Out}\n{Logs}");
            await Task.Delay(250);
        }
    }

    /// <summary>SIGKILLs the server (its bundle endpoint goes down with it).</summary>
    public void KillServer() => _server?.Kill();

    /// <summary>The agent's process id (0 when it is not running).</summary>
    public int AgentProcessId => _agent?.Pid ?? 0;

    /// <summary>SIGKILLs the agent.</summary>
    public void KillAgent() => _agent?.Kill();

    /// <summary>The processes' output, for failure messages.</summary>
    public string Logs => $"--- {TrustDomain.Name} server:\n{_server?.Output}\n--- {TrustDomain.Name} agent:\n{_agent?.Output}";

    public void Dispose()
    {
        _agent?.Dispose();
        _server?.Dispose();
    }

    private async Task StartServerAsync(string refreshHint)
    {
        // A free port on loopback is free in a fresh namespace too.
        _agentApiPort = LoopbackPort.Unused();
        var config = Path.Combine(Dir, "server.yaml");
        await File.WriteAllTextAsync(config, $"""
            trustDomain: {TrustDomain.Name}
            dataDir: {Path.Combine(Dir, "server")}
            adminUids: [{TestServer.OwnUid()}]
            listen:
              agentApi: {Address}:{_agentApiPort}
              health: 127.0.0.1:0
              adminSocket: {AdminSocket}
            bundle:
              refreshHint: {refreshHint}
            federation:
              refreshFloor: 1s
              bundleEndpoint:
                listen: {Address}:0
                profile: https_spiffe
            """);
        _server = await AnchorageProcess.StartAsync($"{TrustDomain.Name} server", Netns, "server", "run", "--config", config);
        await WaitAsync(_server, async () => File.Exists(AdminSocket)
            && (await TestServer.RunCliAsync("server", "healthcheck", "--socket", AdminSocket)).ExitCode == 0);
        var inventory = await JsonAsync("inventory", "--output", "json");
        BundleEndpoint = inventory["bundleEndpoint"]!["listen"]!.GetValue<string>();
    }

    private async Task WaitAsync(ChildProcess process, Func<Task<bool>> ready)
    {
        var clock = Stopwatch.StartNew();
        while (!await ready())
        {
            Assert.False(process.HasExited, $"{process.Name} exited before it was ready:\n{Logs}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{process.Name} was not ready within 60 s:\n{Logs}");
            await Task.Delay(100);
        }
    }
}
