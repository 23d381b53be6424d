using Anchorage.Cli.Commands.Demo.Internal.Cluster;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// A <c>CommunicationPolicy</c> in each domain (deny by default): acme.corp's workloads may call
/// payments' api; payments allows only web and denies batch explicitly. Each is stored with a version.
/// </summary>
internal sealed class ApplyPoliciesStep : DemoStep
{
    private const string AcmePolicy = $$"""
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: acme-to-payments-api
              action: allow
              from: { trustDomain: {{DemoContext.Acme}} }
              to:   { spiffeId: "{{DemoContext.ApiId}}" }

        """;

    private const string PaymentsPolicy = $$"""
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: payments }
        spec:
          rules:
            - name: web-to-payments-api
              action: allow
              from: { spiffeId: "{{DemoContext.WebId}}" }
              to:   { spiffeId: "{{DemoContext.ApiId}}" }
            - name: no-batch-payments
              action: deny
              from: { spiffeId: "{{DemoContext.BatchId}}" }
              to:   { trustDomain: {{DemoContext.Payments}} }

        """;

    public override string Name => "policy";

    public override string Title => "apply a communication policy in each domain (deny by default)";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var acme = await ApplyAsync(demo, demo.AcmeDomain, AcmePolicy, cancellationToken).ConfigureAwait(false);
        var payments = await ApplyAsync(demo, demo.PaymentsDomain, PaymentsPolicy, cancellationToken).ConfigureAwait(false);
        return $"acme.corp policy version {acme}: its workloads may call {DemoContext.ApiId}; payments.acme.corp policy version {payments}: only {DemoContext.WebId} may, {DemoContext.BatchId} explicitly not";
    }

    private static async Task<long> ApplyAsync(DemoContext demo, ClusterDomain domain, string yaml, CancellationToken cancellationToken)
    {
        var file = Path.Combine(domain.Dir, "policy.yaml");
        await ClusterFiles.WriteAsync(file, yaml, cancellationToken).ConfigureAwait(false);
        demo.Console.Block(yaml);
        if (demo.Cli.HasVerb("policy", "apply"))
        {
            await demo.Cli.CheckedAsync(domain, ["policy", "apply", "-f", file], cancellationToken).ConfigureAwait(false);
        }
        else
        {
            demo.Console.Info($"(admin API ApplyPolicy on {domain.Name})");
            await OperatorCli.AdminAsync(domain, (c, o) => c.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = yaml, Source = file }, o), cancellationToken).ConfigureAwait(false);
        }

        var stored = await OperatorCli.AdminAsync(domain, (c, o) => c.GetPolicyAsync(new GetPolicyRequest(), o), cancellationToken).ConfigureAwait(false);
        return stored.Version > 0 ? stored.Version : throw new DemoStepException($"{domain.Name} stores no policy after applying one");
    }
}
