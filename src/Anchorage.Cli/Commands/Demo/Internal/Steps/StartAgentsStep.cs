using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// Three nodes joined with join tokens: acme.corp's web and batch nodes (a gate outbound listener
/// on a unix socket to payments; web also intercepts transparently when the machine allows) and
/// payments' node (a gate inbound listener in front of the service). All three healthy.
/// </summary>
internal sealed class StartAgentsStep : DemoStep
{
    public override string Name => "agents";

    public override string Title => "start an agent per node: acme.corp web node, acme.corp batch node, payments node";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var cluster = demo.Cluster;
        demo.InboundPort = DemoEndpoint.FreeLoopbackPort();
        var target = DemoEndpoint.Loopback(demo.InboundPort);
        demo.Transparent = TransparentDemo.TryCreate(cluster.Dir, cluster.Uid, out var skipped);
        demo.TransparentSkipped = skipped;
        var transparent = demo.Transparent?.GateYaml(demo.InboundPort, DemoContext.ApiId) ?? string.Empty;
        demo.Web = await cluster.StartAgentAsync(demo.AcmeDomain, "web-node", outDir => Outbound(outDir, target) + transparent, cancellationToken, demo.Transparent?.AttestationYaml()).ConfigureAwait(false);
        demo.Batch = await cluster.StartAgentAsync(demo.AcmeDomain, "batch-node", outDir => Outbound(outDir, target), cancellationToken).ConfigureAwait(false);
        demo.Api = await cluster.StartAgentAsync(demo.PaymentsDomain, "api-node", _ => ClusterYaml.Inbound(target, DemoEndpoint.Loopback(demo.ServicePort)), cancellationToken).ConfigureAwait(false);
        foreach (var node in demo.Nodes)
        {
            await cluster.WaitHealthyAsync(node, cancellationToken).ConfigureAwait(false);
        }

        return $"three agents attested with join tokens: {demo.Web.AgentId}, {demo.Batch.AgentId}, {demo.Api.AgentId}; payments' inbound gate on {target}";
    }

    private static string Outbound(string outDir, string target) => ClusterYaml.Outbound(Path.Combine(outDir, "payments.sock"), target, DemoContext.ApiId);
}
