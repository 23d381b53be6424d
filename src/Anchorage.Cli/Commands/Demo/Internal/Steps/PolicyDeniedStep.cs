using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>Batch presents a valid acme.corp SVID that payments verifies; payments' policy denies it at the inbound gate.</summary>
internal sealed class PolicyDeniedStep : DemoStep
{
    public override string Name => "policy-denied";

    public override string Title => "batch (acme.corp) has a valid SVID, but payments' policy denies it";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var before = demo.ServiceConnections;
        var (code, output, pid) = await Workloads.CallAsync(demo.Anchorage, demo.Batch, "hello from acme.corp/batch", cancellationToken).ConfigureAwait(false);
        if (code == 0)
        {
            throw new DemoStepException($"batch got a reply: {CliApp.OneLine(output)}");
        }

        var record = await demo.Cluster.WaitAuditAsync(demo.Api, r => r.Decision == "deny" && r.PeerSpiffeId == DemoContext.BatchId, $"a deny record for {DemoContext.BatchId} at payments' inbound gate", cancellationToken).ConfigureAwait(false);
        if (demo.ServiceConnections != before)
        {
            throw new DemoStepException("the payments service saw batch's connection");
        }

        return $"pid {pid} presented {DemoContext.BatchId}, which payments verified with acme.corp's bundle and denied (rule {record.Rule ?? "default"}); payments' service saw nothing";
    }
}
