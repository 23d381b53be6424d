using Anchorage.Agent.Attestation;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// Transparent interception (its fixture: <see cref="TransparentDemo"/>): a plain client in the
/// demo's cgroup calling payments' real address is served through web's gate with its own SVID;
/// bash connecting there and then exec'ing the registered binary is denied, and the audit names
/// bash. Skipped, saying why, where the machine cannot load the eBPF programs.
/// </summary>
internal sealed class TransparentStep : DemoStep
{
    public override string Name => "transparent";

    public override string Title => "an unmodified plain client calls payments' real address through transparent interception; exec after connect is refused";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        if (demo.Transparent is not { } fixture)
        {
            demo.Console.Info("skipped: " + demo.TransparentSkipped);
            return "skipped on this machine: " + demo.TransparentSkipped;
        }

        // 1. A plain client (no gate address, no TLS) in the demo's cgroup calls payments' real
        //    address; the kernel hands the connection to web's gate, which presents the client's own SVID.
        var real = "tcp://" + DemoEndpoint.Loopback(demo.InboundPort);
        var before = demo.ServiceConnections;
        var (code, output, pid) = await Workloads.CallAsync(fixture.InCgroup(demo.Anchorage), demo.Web, real, "plain text to the real address", cancellationToken).ConfigureAwait(false);
        if (code != 0 || !output.StartsWith("payments.acme.corp/api: plain text to the real address", StringComparison.Ordinal))
        {
            throw new DemoStepException($"the plain client calling {real} got no reply (exit {code}): {CliApp.OneLine(output)}");
        }

        await LocalCluster.WaitAsync(() => demo.ServiceConnections > before, "the payments service to see the intercepted connection", cancellationToken).ConfigureAwait(false);
        var allowed = await demo.Cluster.WaitAuditAsync(demo.Web, r => r.Pid == pid && r.Decision == "allow", $"an allow record for the plain client's pid {pid}", cancellationToken).ConfigureAwait(false);
        demo.Console.Info($"plain client pid {pid} -> {real}: \"{CliApp.OneLine(output)}\" (intercepted, sent as {allowed.SpiffeId ?? DemoContext.WebId}, attribution {allowed.Attribution})");

        // 2. bash connects to the same address, then exec's the registered binary on that connection.
        before = demo.ServiceConnections;
        (code, output, pid) = await Workloads.CallAsync(fixture.ExecAfterConnect(demo.Anchorage, demo.InboundPort), demo.Web, "fd:3", "exec after connect", cancellationToken).ConfigureAwait(false);
        if (code == 0)
        {
            throw new DemoStepException($"exec after connect got a reply (pid {pid}): {CliApp.OneLine(output)}");
        }

        var denied = await demo.Cluster.WaitAuditAsync(demo.Web, r => r.Pid == pid && r.Decision == "deny", $"a deny record for the exec-after-connect pid {pid}", cancellationToken).ConfigureAwait(false);
        var bash = ExecutableFile.AuditName(fixture.Bash);
        if (denied.Attribution != "kernel" || denied.ExeFile != bash)
        {
            throw new DemoStepException($"the deny record for pid {pid} does not name bash ({bash}) as the binary that connected: attribution {denied.Attribution}, exeFile {denied.ExeFile}");
        }

        if (demo.ServiceConnections != before)
        {
            throw new DemoStepException("the payments service saw the exec-after-connect connection");
        }

        demo.Console.Info($"audit: deny pid={pid} exeFile={denied.ExeFile} ({fixture.Bash}, the binary that called connect()) reason={denied.Reason ?? denied.Rule}");
        return $"the plain client was served as {DemoContext.WebId} through web's gate; bash that exec'd {Path.GetFileName(demo.Anchorage.FileName)} after connecting was denied, and the audit names bash ({denied.ExeFile})";
    }
}
