using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// Payments prepares, activates and taints a new X.509 authority while web calls every 100 ms on
/// new connections; activation waits until web's workload trusts the prepared authority. No call fails.
/// </summary>
internal sealed class RotationStep : DemoStep
{
    private static readonly TimeSpan CallerExitTimeout = TimeSpan.FromSeconds(15);

    public override string Name => "rotation";

    public override string Title => "payments rotates its CA (prepare, activate, taint) while web keeps calling: no failed call";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var payments = demo.PaymentsDomain;
        var dir = Path.Combine(demo.Cluster.Dir, DemoContext.Acme, "web-node");
        var caller = demo.Cluster.Start("the looping caller", demo.Anchorage, ["demo", "call", "--connect", "unix://" + demo.Web.OutboundSocket, "--message", "rotation", "--loop"], Path.Combine(dir, "caller.log"), redirectInput: true);
        demo.Console.Command("anchorage demo call --loop   (web, a new connection every 100 ms)", $"pid {caller.Pid}");
        await caller.WaitForLineAsync(l => l == "ok 3", LocalCluster.StartTimeout, cancellationToken).ConfigureAwait(false);

        var old = await Authorities.ActiveAsync(payments, cancellationToken).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(payments, ["authority", "x509", "prepare"], cancellationToken, showOutput: false).ConfigureAwait(false);
        var seq = await FederationWaits.WaitFederatedAsync(demo.AcmeDomain, payments, cancellationToken).ConfigureAwait(false);
        demo.Console.Info($"acme.corp fetched payments' bundle with the prepared authority (sequence {seq})");

        // Activate only once the peer's WORKLOADS trust the prepared authority (server -> agent ->
        // workload), not merely the peer's server: else a call in between fails verification.
        var prepared = await Authorities.PreparedAsync(payments, cancellationToken).ConfigureAwait(false);
        var held = await demo.Workloads.WaitFederatedBundleHoldsAsync(demo.Web, payments.Name, prepared, cancellationToken).ConfigureAwait(false);
        demo.Console.Info($"web's workload trusts it through its agent after {held.TotalSeconds:0.0} s");
        await demo.Cli.CheckedAsync(payments, ["authority", "x509", "activate"], cancellationToken, showOutput: false).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(payments, ["authority", "x509", "taint", "--id", old.Id], cancellationToken, showOutput: false).ConfigureAwait(false);
        var current = await Authorities.ActiveAsync(payments, cancellationToken).ConfigureAwait(false);
        var reissued = await demo.Workloads.WaitSignedByAsync(demo.Api, current, cancellationToken).ConfigureAwait(false);
        demo.Console.Info($"payments' api SVID re-issued by the new authority after {reissued.TotalSeconds:0.0} s");

        // Calls after the switch must go through too.
        var okBefore = Successes(caller);
        await LocalCluster.WaitAsync(() => Successes(caller) >= okBefore + 5, "five more calls after the switch", cancellationToken).ConfigureAwait(false);
        caller.CloseInput();
        await caller.WaitForExitAsync(CallerExitTimeout, cancellationToken).ConfigureAwait(false);
        var summary = caller.Lines.LastOrDefault(l => l.StartsWith("calls=", StringComparison.Ordinal)) ?? "no summary";
        var failures = caller.Lines.Where(l => l.StartsWith("fail ", StringComparison.Ordinal)).ToList();
        if (failures.Count > 0)
        {
            throw new DemoStepException($"{failures.Count} call(s) failed during the rotation ({summary}); first: {failures[0]}");
        }

        return $"{summary.Replace("calls=", "calls: ", StringComparison.Ordinal).Replace(" failures=", ", failures: ", StringComparison.Ordinal)} across prepare, activate and taint";
    }

    private static int Successes(ChildProcess caller) => caller.Lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal));
}
