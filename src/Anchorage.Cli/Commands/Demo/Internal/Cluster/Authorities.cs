using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>A domain's X.509 authorities, by state, as its admin API lists them.</summary>
internal static class Authorities
{
    /// <summary>The active X.509 authority of <paramref name="domain"/>.</summary>
    public static Task<Protos.Admin.V1.Authority> ActiveAsync(ClusterDomain domain, CancellationToken cancellationToken) =>
        InStateAsync(domain, "active", $"{domain.Name} has no active x509 authority", cancellationToken);

    /// <summary>The prepared X.509 authority of <paramref name="domain"/> (after <c>authority x509 prepare</c>).</summary>
    public static Task<Protos.Admin.V1.Authority> PreparedAsync(ClusterDomain domain, CancellationToken cancellationToken) =>
        InStateAsync(domain, "prepared", $"{domain.Name} has no prepared x509 authority after prepare", cancellationToken);

    private static async Task<Protos.Admin.V1.Authority> InStateAsync(ClusterDomain domain, string state, string missing, CancellationToken cancellationToken)
    {
        var list = await OperatorCli.AdminAsync(domain, (c, o) => c.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" }, o), cancellationToken).ConfigureAwait(false);
        return list.Authorities.SingleOrDefault(a => a.State == state) ?? throw new DemoStepException(missing);
    }
}
