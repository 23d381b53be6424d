using System.Globalization;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// The demo's transparent-interception step (issue 10): a cgroup of the demo's own under the
/// cgroup v2 mount whose processes the web agent records at <c>connect()</c> (eBPF) and
/// intercepts (<c>gate.transparent</c>, failMode <c>open</c>, so nothing stays attached after the
/// demo); a plain client in it calls payments' real address, and bash connecting there and then
/// exec'ing the registered binary (exec after connect) is refused.
/// </summary>
internal sealed class TransparentDemo : IDisposable
{
    public const string CgroupRoot = "/sys/fs/cgroup/unified";

    // Joins the cgroup ($1), connects to 127.0.0.1:$2 on fd 3, then exec's the rest on that connection.
    private const string ExecAfterConnectScript = """
        #!/bin/bash
        # anchorage demo: connect first (as bash), then exec the registered binary on the connection.
        echo $$ > "$1/cgroup.procs" || exit 1
        exec 3<>"/dev/tcp/127.0.0.1/$2" || exit 1
        shift 2
        exec "$@"

        """;

    private TransparentDemo(string cgroup, string script, string bash)
    {
        Cgroup = cgroup;
        Script = script;
        Bash = bash;
        ListenPort = DemoEndpoint.FreeLoopbackPort();
    }

    /// <summary>The demo's cgroup (recorded and intercepted).</summary>
    public string Cgroup { get; }

    /// <summary>The gate's transparent listener port.</summary>
    public int ListenPort { get; }

    /// <summary>bash, the binary the impersonation attempt connects with.</summary>
    public string Bash { get; }

    private string Script { get; }

    /// <summary>
    /// The step's fixture when this machine allows it (root, cgroup v2 at <see cref="CgroupRoot"/>,
    /// the agent's eBPF objects built, bash), else null and <paramref name="whyNot"/>.
    /// </summary>
    public static TransparentDemo? TryCreate(string dir, uint uid, out string whyNot)
    {
        var bpf = Path.Combine(AppContext.BaseDirectory, "bpf");
        string? bash = ((string[])["/usr/bin/bash", "/bin/bash"]).FirstOrDefault(File.Exists);
        whyNot = uid != 0 ? "not root (loading eBPF programs needs CAP_BPF and CAP_NET_ADMIN)"
            : !File.Exists(Path.Combine(CgroupRoot, "cgroup.procs")) ? $"no cgroup v2 at {CgroupRoot}"
            : !File.Exists(Path.Combine(bpf, "attribution.bpf.o")) || !File.Exists(Path.Combine(bpf, "transparent.bpf.o")) ? $"the eBPF programs were not built ({bpf}/*.bpf.o missing: no clang or bpftool at build time)"
            : bash is null ? "no bash (the impersonation attempt uses its /dev/tcp)"
            : string.Empty;
        if (whyNot.Length > 0)
        {
            return null;
        }

        var cgroup = Path.Combine(CgroupRoot, "anchorage-demo-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(cgroup);
        var script = Path.Combine(dir, "exec-after-connect.sh");
        File.WriteAllText(script, ExecAfterConnectScript);
        return new TransparentDemo(cgroup, script, bash!);
    }

    /// <summary>
    /// The agent.yaml top-level section: record the cgroup's processes (the node's other
    /// workloads, outside the cgroup, are attributed by the fallback; the step checks that the
    /// denial it shows was decided by the kernel's record).
    /// </summary>
    public string AttestationYaml() => $"""
        attestation:
          kernel:
            mode: auto
            cgroups: [{Cgroup}]
        """;

    /// <summary>The gate section's lines: intercept the cgroup's connections to <paramref name="target"/> (payments' real address).</summary>
    public string GateYaml(int target, string peer) => "\n" + string.Create(CultureInfo.InvariantCulture, $"""
          transparent:
            listen: tcp://127.0.0.1:{ListenPort}
            failMode: open
            cgroups: [{Cgroup}]
            destinations:
              - name: payments-transparent
                cidr: 127.0.0.1/32
                ports: {target}
                peer: {peer}

        """);

    /// <summary><paramref name="command"/> started inside the cgroup (a shell moves itself in, then exec's it).</summary>
    public SelfCommand InCgroup(SelfCommand command) => new(
        "/bin/sh",
        ["-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", Cgroup, command.FileName, .. command.Prefix],
        command.Description + " in the demo's cgroup");

    /// <summary>bash in the cgroup connects to 127.0.0.1:<paramref name="port"/>, then exec's <paramref name="command"/> with the connection on fd 3.</summary>
    public SelfCommand ExecAfterConnect(SelfCommand command, int port) => new(
        Bash,
        [Script, Cgroup, port.ToString(CultureInfo.InvariantCulture), command.FileName, .. command.Prefix],
        "bash, which connects and then exec's " + command.Description);

    /// <summary>Kills what is left in the cgroup and removes it (the agents, which own the links, are gone first).</summary>
    public void Dispose()
    {
        try
        {
            File.WriteAllText(Path.Combine(Cgroup, "cgroup.kill"), "1");
            for (var i = 0; i < 100; i++)
            {
                try
                {
                    Directory.Delete(Cgroup);
                    return;
                }
                catch (IOException)
                {
                    Thread.Sleep(50);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Already gone.
        }
    }
}
