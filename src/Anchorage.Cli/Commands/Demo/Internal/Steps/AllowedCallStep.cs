using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>Web calls payments through its outbound gate with its own SVID: a reply, one connection at the service, an allow record.</summary>
internal sealed class AllowedCallStep : DemoStep
{
    public override string Name => "allowed-call";

    public override string Title => "web (acme.corp) calls payments through its outbound gate: allowed";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var before = demo.ServiceConnections;
        var (code, output, pid) = await Workloads.CallAsync(demo.Anchorage, demo.Web, "hello from acme.corp/web", cancellationToken).ConfigureAwait(false);
        if (code != 0 || !output.StartsWith("payments.acme.corp/api: hello from acme.corp/web", StringComparison.Ordinal))
        {
            throw new DemoStepException($"the call failed (exit {code}): {CliApp.OneLine(output)}");
        }

        await LocalCluster.WaitAsync(() => demo.ServiceConnections > before, "the payments service to see the connection", cancellationToken).ConfigureAwait(false);
        demo.Console.Info($"reply: {CliApp.OneLine(output)}");
        demo.AllowedPid = pid;
        var record = await demo.Cluster.WaitAuditAsync(demo.Web, r => r.Pid == pid && r.Decision == "allow", $"an allow record for pid {pid}", cancellationToken).ConfigureAwait(false);
        return $"pid {pid} got through as {record.SpiffeId ?? DemoContext.WebId} (rule {record.Rule ?? "-"}); payments' service saw 1 connection";
    }
}
