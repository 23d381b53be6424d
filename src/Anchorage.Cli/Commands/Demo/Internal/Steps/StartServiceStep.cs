using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>The payments service, a line echo server (<c>anchorage demo serve</c>), listening on loopback.</summary>
internal sealed class StartServiceStep : DemoStep
{
    public override string Name => "service";

    public override string Title => "start the payments service (a line echo server) on loopback";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var port = DemoEndpoint.FreeLoopbackPort();
        var dir = Path.Combine(demo.Cluster.Dir, DemoContext.Payments, "service");
        ClusterFiles.MakeDirectory(dir);
        var service = demo.Cluster.Start("the payments service", demo.Anchorage, ["demo", "serve", "--listen", DemoEndpoint.Loopback(port), "--name", "payments.acme.corp/api"], Path.Combine(dir, "service.log"));
        demo.Service = service;
        demo.Console.Command($"anchorage demo serve --listen {DemoEndpoint.Loopback(port)}", $"pid {service.Pid}");
        var line = await service.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), LocalCluster.StartTimeout, cancellationToken).ConfigureAwait(false);
        demo.WorkloadExe = line[(line.IndexOf(" exe=", StringComparison.Ordinal) + " exe=".Length)..];
        demo.ServicePort = port;
        return $"listening on {DemoEndpoint.Loopback(port)}; the workloads run as {demo.WorkloadExe}, uid {demo.Cluster.Uid}";
    }
}
