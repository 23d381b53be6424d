using Anchorage.Cli.Commands.Demo.Internal.Cluster;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary><c>anchorage inventory</c> of each domain lists the other, fresh, used by its entries, with no flag and no error.</summary>
internal sealed class InventoryStep : DemoStep
{
    public override string Name => "inventory";

    public override string Title => "the inventory of each trust domain";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        foreach (var (domain, peer) in new[] { (demo.AcmeDomain, demo.PaymentsDomain), (demo.PaymentsDomain, demo.AcmeDomain) })
        {
            var result = await demo.Cli.CheckedAsync(domain, ["inventory"], cancellationToken).ConfigureAwait(false);
            if (!result.Contains(peer.Name, StringComparison.Ordinal))
            {
                throw new DemoStepException($"{domain.Name}'s inventory does not list {peer.Name}");
            }

            var status = await OperatorCli.AdminAsync(domain, (c, o) => c.GetFederationAsync(new GetFederationRequest { TrustDomain = peer.Name }, o), cancellationToken).ConfigureAwait(false);
            if (status.Flags.Count > 0 || status.LastError.Length > 0 || status.FederatingEntries == 0)
            {
                throw new DemoStepException($"{domain.Name}'s relationship with {peer.Name} is not healthy: flags [{string.Join(",", status.Flags)}], last error \"{status.LastError}\", {status.FederatingEntries} entries");
            }
        }

        return "each domain lists the other, fresh, used by its entries, no flags and no error";
    }
}
