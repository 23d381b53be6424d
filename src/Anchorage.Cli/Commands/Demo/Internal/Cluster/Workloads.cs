using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// Workload processes on the cluster's nodes: <c>anchorage demo call</c> through a gate and
/// <c>anchorage agent api fetch x509</c> against an agent, each a short-lived child, and the waits
/// built on them (an SVID arrives, a federated bundle holds an authority, an SVID is re-issued).
/// </summary>
internal sealed class Workloads(LocalCluster cluster)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FetchInterval = TimeSpan.FromMilliseconds(300);

    /// <summary>Runs <c>demo call</c> through <paramref name="node"/>'s outbound gate as <paramref name="command"/>; its exit code, output and pid.</summary>
    public static Task<(int Code, string Output, int Pid)> CallAsync(SelfCommand command, ClusterNode node, string message, CancellationToken cancellationToken) =>
        CallAsync(command, node, "unix://" + node.OutboundSocket, message, cancellationToken);

    /// <summary>Runs <c>demo call --connect <paramref name="connect"/></c>, logging to <paramref name="node"/>'s calls.log.</summary>
    public static async Task<(int Code, string Output, int Pid)> CallAsync(SelfCommand command, ClusterNode node, string connect, string message, CancellationToken cancellationToken)
    {
        var child = ChildProcess.Start("a caller", command, ["demo", "call", "--connect", connect, "--message", message], Path.Combine(node.Dir, "calls.log"));
        try
        {
            var code = await child.WaitForExitAsync(RunTimeout, cancellationToken).ConfigureAwait(false);

            // A refusal is on stderr; the log holds both.
            return (code, code == 0 ? string.Join('\n', child.Lines) : child.Tail(1), child.Pid);
        }
        finally
        {
            await child.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs <c>anchorage ARGS</c> as a workload (logging to workload.log); its exit code and output.</summary>
    public async Task<(int Code, string Output)> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var child = ChildProcess.Start("a workload", cluster.Anchorage, args, Path.Combine(cluster.Dir, "workload.log"));
        try
        {
            var code = await child.WaitForExitAsync(RunTimeout, cancellationToken).ConfigureAwait(false);
            return (code, code == 0 ? string.Join('\n', child.Lines) : child.Tail(1));
        }
        finally
        {
            await child.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Fetches as a workload on <paramref name="node"/> until it gets <paramref name="id"/> and the bundle of <paramref name="federated"/>.</summary>
    public async Task WaitSvidAsync(ClusterNode node, string id, string federated, CancellationToken cancellationToken)
    {
        var last = string.Empty;
        await Poll.UntilAsync(
            async ct =>
            {
                var (code, output) = await RunAsync(["agent", "api", "fetch", "x509", "--socket", node.ApiSocket, "--output", "json"], ct).ConfigureAwait(false);
                last = CliApp.OneLine(output.Trim());
                return code == 0 && output.Contains($"\"{id}\"", StringComparison.Ordinal) && output.Contains($"\"{federated}\"", StringComparison.Ordinal);
            },
            LocalCluster.ConvergeTimeout,
            FetchInterval,
            () => $"no SVID {id} with the {federated} bundle on {node.Name} within {LocalCluster.ConvergeTimeout.TotalSeconds:0} s (last answer: {last})",
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until a workload on <paramref name="node"/> receives <paramref name="trustDomain"/>'s bundle holding <paramref name="authority"/>; how long that took.</summary>
    public Task<TimeSpan> WaitFederatedBundleHoldsAsync(ClusterNode node, string trustDomain, Protos.Admin.V1.Authority authority, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(node.Dir, "fetched-bundles");
        var file = Path.Combine(dir, $"federated_bundle.{trustDomain}.pem");
        return Poll.UntilAsync(
            async ct =>
            {
                var (code, _) = await RunAsync(["agent", "api", "fetch", "x509", "--socket", node.ApiSocket, "--write", dir], ct).ConfigureAwait(false);
                return code == 0 && File.Exists(file) && AnyCertificate(file, c => c.RawData.AsSpan().SequenceEqual(authority.Certificate.Span));
            },
            LocalCluster.ConvergeTimeout,
            FetchInterval,
            () => $"the workload on {node.Name} did not receive {trustDomain}'s authority {authority.Id} within {LocalCluster.ConvergeTimeout.TotalSeconds:0} s",
            cancellationToken);
    }

    /// <summary>Waits until the SVID a workload on <paramref name="node"/> receives is signed by <paramref name="authority"/>; how long that took.</summary>
    public async Task<TimeSpan> WaitSignedByAsync(ClusterNode node, Protos.Admin.V1.Authority authority, CancellationToken cancellationToken)
    {
        using var ca = X509CertificateLoader.LoadCertificate(authority.Certificate.Span);
        var dir = Path.Combine(node.Dir, "fetched");
        return await Poll.UntilAsync(
            async ct =>
            {
                var (code, _) = await RunAsync(["agent", "api", "fetch", "x509", "--socket", node.ApiSocket, "--write", dir], ct).ConfigureAwait(false);
                return code == 0 && FirstCertificate(Path.Combine(dir, "svid.0.pem"), c => c.IssuerName.RawData.AsSpan().SequenceEqual(ca.SubjectName.RawData));
            },
            LocalCluster.ConvergeTimeout,
            FetchInterval,
            () => $"the SVID on {node.Name} was not re-issued by authority {authority.Id} within {LocalCluster.ConvergeTimeout.TotalSeconds:0} s",
            cancellationToken).ConfigureAwait(false);
    }

    private static bool AnyCertificate(string pemFile, Func<X509Certificate2, bool> match) => WithCertificates(pemFile, all => all.Any(match));

    private static bool FirstCertificate(string pemFile, Func<X509Certificate2, bool> match) => WithCertificates(pemFile, all => all.Count > 0 && match(all[0]));

    private static bool WithCertificates(string pemFile, Func<X509Certificate2Collection, bool> check)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(pemFile);
        try
        {
            return check(certificates);
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }
}
