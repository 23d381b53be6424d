using System.Text;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// Each domain applies and approves a <c>FederatedTrustDomain</c> for the other (https_spiffe,
/// bootstrapped from the peer's bundle); both then hold the peer's bundle fetched from its endpoint.
/// </summary>
internal sealed class FederateStep : DemoStep
{
    public override string Name => "federation";

    public override string Title => "federate them both ways over https_spiffe, bootstrapped from each other's bundle";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        await ApplyAsync(demo, demo.AcmeDomain, demo.PaymentsDomain, "payments-platform@acme.corp", cancellationToken).ConfigureAwait(false);
        await ApplyAsync(demo, demo.PaymentsDomain, demo.AcmeDomain, "identity-team@acme.corp", cancellationToken).ConfigureAwait(false);
        var paymentsSeq = await FederationWaits.WaitFederatedAsync(demo.AcmeDomain, demo.PaymentsDomain, cancellationToken).ConfigureAwait(false);
        var acmeSeq = await FederationWaits.WaitFederatedAsync(demo.PaymentsDomain, demo.AcmeDomain, cancellationToken).ConfigureAwait(false);
        return $"acme.corp holds payments.acme.corp's bundle (sequence {paymentsSeq}) and payments.acme.corp holds acme.corp's (sequence {acmeSeq}), both fetched from the bundle endpoints";
    }

    private static async Task ApplyAsync(DemoContext demo, ClusterDomain local, ClusterDomain peer, string owner, CancellationToken cancellationToken)
    {
        var bundle = await OperatorCli.AdminAsync(peer, (c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
        var json = Encoding.UTF8.GetString(bundle.SpiffeBundleJson.Span);
        var file = Path.Combine(local.Dir, $"federation-{peer.Name}.yaml");
        await ClusterFiles.WriteAsync(file, ClusterYaml.Federation(peer.Name, owner, peer.BundlePort, json), cancellationToken).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(local, ["federation", "apply", "-f", file], cancellationToken).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(local, ["federation", "approve", peer.Name, "--note", "demo: both domains run here"], cancellationToken).ConfigureAwait(false);
    }
}
