using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// An entry per workload (<c>unix:uid</c> and <c>unix:path</c> selectors, federating with the other
/// domain); each node's workload process then holds its SVID and the other domain's bundle.
/// </summary>
internal sealed class RegisterWorkloadsStep : DemoStep
{
    public override string Name => "workloads";

    public override string Title => "register the workloads and wait for their SVIDs";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        string[] selectors = [$"unix:uid:{demo.Cluster.Uid}", $"unix:path:{demo.WorkloadExe}"];
        (ClusterDomain Domain, string Id, ClusterNode Node, string Federated)[] workloads =
        [
            (demo.AcmeDomain, DemoContext.WebId, demo.Web, DemoContext.Payments),
            (demo.AcmeDomain, DemoContext.BatchId, demo.Batch, DemoContext.Payments),
            (demo.PaymentsDomain, DemoContext.ApiId, demo.Api, DemoContext.Acme),
        ];
        foreach (var (domain, id, node, federated) in workloads)
        {
            string[] args = ["entry", "create", "--spiffe-id", id, "--parent-id", node.AgentId, .. selectors.SelectMany(s => new[] { "--selector", s }), "--federates-with", federated];
            await demo.Cli.CheckedAsync(domain, args, cancellationToken, showOutput: false).ConfigureAwait(false);
        }

        foreach (var (_, id, node, federated) in workloads)
        {
            await demo.Workloads.WaitSvidAsync(node, id, federated, cancellationToken).ConfigureAwait(false);
        }

        return $"each node's workload process holds its SVID and the other domain's bundle: {DemoContext.WebId}, {DemoContext.BatchId}, {DemoContext.ApiId}";
    }
}
