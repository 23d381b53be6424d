using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>A server for each trust domain, SQLite, on loopback: both healthy.</summary>
internal sealed class StartServersStep : DemoStep
{
    public override string Name => "servers";

    public override string Title => "start a server for acme.corp and one for payments.acme.corp (SQLite, loopback)";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        demo.AcmeDomain = await demo.Cluster.StartServerAsync(DemoContext.Acme, cancellationToken).ConfigureAwait(false);
        demo.PaymentsDomain = await demo.Cluster.StartServerAsync(DemoContext.Payments, cancellationToken).ConfigureAwait(false);
        await demo.Cluster.WaitHealthyAsync(demo.AcmeDomain, cancellationToken).ConfigureAwait(false);
        await demo.Cluster.WaitHealthyAsync(demo.PaymentsDomain, cancellationToken).ConfigureAwait(false);
        return $"both healthy; bundle endpoints https_spiffe on {DemoEndpoint.Loopback(demo.AcmeDomain.BundlePort)} and {DemoEndpoint.Loopback(demo.PaymentsDomain.BundlePort)}";
    }
}
