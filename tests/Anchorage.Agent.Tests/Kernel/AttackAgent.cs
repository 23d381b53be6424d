using System.Diagnostics;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Config;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Kernel;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Kernel;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// A real agent host (Workload API on a unix socket and loopback TCP) holding one entry, attributing
/// in the given mode, and the attacker's tools: copies of python (<see cref="Web"/> is the victim's
/// binary, <see cref="Evil"/> another file, <see cref="SetUidPython"/> setuid root) and the raw
/// HTTP/2 client wapi_client.py, run in a cgroup of the test's own. In kernel mode the programs
/// are attached to that cgroup and unrecorded connections are refused, so the kernel path alone
/// decides; in fallback mode no program is loaded.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class AttackAgent : IAsyncDisposable
{
    public const string Python = "/usr/bin/python3.11";

    private readonly ConnectionAttributor _attribution;
    private AgentHostHandle? _host;

    private AttackAgent(AttributionMode mode, Func<AttackAgent, WorkloadSelector[]> entry)
    {
        Dir = Path.Combine("/tmp", "anchorage-attack-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Dir, (UnixFileMode)0b111_101_101);
        Web = Copy(Python, "web");
        Evil = Copy(Python, "evil");
        SetUidPython = Copy(Python, "suid-python");
        File.SetUnixFileMode(SetUidPython, (UnixFileMode)0b100_111_101_101);
        Script = Path.Combine(Dir, "wapi_client.py");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Kernel", "wapi_client.py"), Script);
        Cgroup = TestCgroup.Create();
        Cache = new EntryCache(entry(this));
        _attribution = mode == AttributionMode.Kernel
            ? new ConnectionAttributor(KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [Cgroup.Path]), requireRecord: true)
            : ConnectionAttributor.FallbackOnly;
    }

    public string Dir { get; }

    public string Web { get; }

    public string Evil { get; }

    public string SetUidPython { get; }

    public string Script { get; }

    public TestCgroup Cgroup { get; }

    public EntryCache Cache { get; }

    public string Socket => _host!.WorkloadSocketPath;

    public string Tcp => "127.0.0.1:" + _host!.TcpEndPoint!.Port;

    /// <summary>Starts the agent; <paramref name="entry"/> gives the entry's selectors (it may name the fixture's paths).</summary>
    public static async Task<AttackAgent> StartAsync(AttributionMode mode, Func<AttackAgent, WorkloadSelector[]> entry)
    {
        var agent = new AttackAgent(mode, entry);
        try
        {
            var options = new AgentOptions
            {
                TrustDomain = TrustDomain.Parse("example.org"),
                DataDir = Path.Join(agent.Dir, "data"),
                ServerAddress = new HostPort("127.0.0.1", 1),
                WorkloadApi = new WorkloadApiListenOptions { Socket = Path.Join(agent.Dir, "api.sock"), Tcp = new HostPort("127.0.0.1", 0) },
                Listen = new AgentListenOptions { AdminSocket = Path.Join(agent.Dir, "admin.sock"), Health = new HostPort("127.0.0.1", 0) },
                AdminUids = [0],
            };
            agent._host = await AgentHost.StartAsync(
                options,
                new AgentHostSetup { Cache = agent.Cache, Attestor = new UnixWorkloadAttestor(), Attribution = agent._attribution },
                Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
            return agent;
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="program"/> (then its arguments) inside the test's cgroup, stdout and stdin piped.</summary>
    public Process Run(string program, params string[] args) => Cgroup.Start(program, args);

    /// <summary>Runs the client script with <paramref name="binary"/> (a python) and the given steps.</summary>
    public Process Client(string binary, params string[] steps) => Run(binary, [Script, .. steps]);

    /// <summary>The next line the client printed.</summary>
    public static async Task<string> LineAsync(Process process) =>
        await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? "(eof)";

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Cgroup.Dispose();
        _attribution.Dispose();
        Directory.Delete(Dir, recursive: true);
    }

    private string Copy(string source, string name)
    {
        var path = Path.Combine(Dir, name);
        File.Copy(source, path);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }
}
