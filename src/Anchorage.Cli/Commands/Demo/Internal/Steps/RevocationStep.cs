using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// An SVID of web minted by acme.corp's current authority, key and all (what an attacker who copied
/// it holds), gets through payments' gate directly; acme.corp rotates and revokes that authority;
/// new connections with the copy are then refused, its live connection is closed, and web,
/// re-issued, still gets through.
/// </summary>
internal sealed class RevocationStep : DemoStep
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    public override string Name => "revocation";

    public override string Title => "acme.corp revokes its old authority: an SVID it signed is refused at payments' gate";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var acme = demo.AcmeDomain;
        var port = demo.InboundPort;
        var stolenDir = Path.Combine(demo.Cluster.Dir, DemoContext.Acme, "stolen");
        await demo.Cli.CheckedAsync(acme, ["x509", "mint", "--spiffe-id", DemoContext.WebId, "--write", stolenDir], cancellationToken, showOutput: false).ConfigureAwait(false);
        using var stolen = X509Certificate2.CreateFromPemFile(Path.Combine(stolenDir, "svid.pem"), Path.Combine(stolenDir, "key.pem"));
        var control = await MtlsProbe.CallAsync(port, stolen, cancellationToken).ConfigureAwait(false)
            ?? throw new DemoStepException("the minted SVID was refused before any revocation (the control call failed)");
        demo.Console.Info($"a copied SVID of {DemoContext.WebId} (minted by the current authority) gets through payments' gate directly: \"{control}\"");
        using var live = await MtlsProbe.OpenAsync(port, stolen, cancellationToken).ConfigureAwait(false)
            ?? throw new DemoStepException("a second connection with the copied SVID was refused before any revocation");
        if (await live.CallAsync("still here", cancellationToken).ConfigureAwait(false) is null)
        {
            throw new DemoStepException("the live connection with the copied SVID got no reply before any revocation");
        }

        var old = await Authorities.ActiveAsync(acme, cancellationToken).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(acme, ["authority", "x509", "prepare"], cancellationToken, showOutput: false).ConfigureAwait(false);
        await FederationWaits.WaitFederatedAsync(demo.PaymentsDomain, acme, cancellationToken).ConfigureAwait(false);
        var prepared = await Authorities.PreparedAsync(acme, cancellationToken).ConfigureAwait(false);
        await demo.Workloads.WaitFederatedBundleHoldsAsync(demo.Api, acme.Name, prepared, cancellationToken).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(acme, ["authority", "x509", "activate"], cancellationToken, showOutput: false).ConfigureAwait(false);
        await demo.Cli.CheckedAsync(acme, ["authority", "x509", "taint", "--id", old.Id], cancellationToken, showOutput: false).ConfigureAwait(false);
        var current = await Authorities.ActiveAsync(acme, cancellationToken).ConfigureAwait(false);
        await demo.Workloads.WaitSignedByAsync(demo.Web, current, cancellationToken).ConfigureAwait(false);
        demo.Console.Info("web's own SVID was re-issued by the new authority");
        await demo.Cli.CheckedAsync(acme, ["authority", "x509", "revoke", "--id", old.Id], cancellationToken, showOutput: false).ConfigureAwait(false);
        var revokedAt = Stopwatch.StartNew();
        var seq = await FederationWaits.WaitFederatedAsync(demo.PaymentsDomain, acme, cancellationToken).ConfigureAwait(false);
        demo.Console.Info($"payments.acme.corp fetched acme.corp's bundle without the revoked authority (sequence {seq}) after {revokedAt.Elapsed.TotalSeconds:0.0} s");

        // The convergence deadline counts from the revocation, as the message says.
        string? reply = null;
        await Poll.UntilAsync(
            async ct => (reply = await MtlsProbe.CallAsync(port, stolen, ct).ConfigureAwait(false)) is null,
            LocalCluster.ConvergeTimeout - revokedAt.Elapsed,
            TimeSpan.FromMilliseconds(200),
            () => $"the SVID of the revoked authority still gets through {LocalCluster.ConvergeTimeout.TotalSeconds:0} s after the revocation: \"{reply}\"",
            cancellationToken).ConfigureAwait(false);
        var refusedAfter = revokedAt.Elapsed;
        if (!await live.ClosedWithinAsync(CloseTimeout, cancellationToken).ConfigureAwait(false))
        {
            throw new DemoStepException($"the live connection made with the copied SVID was still open {CloseTimeout.TotalSeconds:0} s after new ones were refused (closeOnRevoke)");
        }

        var closedAfter = revokedAt.Elapsed;
        var (code, output, callerPid) = await Workloads.CallAsync(demo.Anchorage, demo.Web, "hello again", cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new DemoStepException($"web's own call failed after the revocation: {CliApp.OneLine(output)} ({GateRecords(demo, callerPid)})");
        }

        return string.Create(CultureInfo.InvariantCulture, $"new connections with the copied SVID are refused {refusedAfter.TotalSeconds:0.0} s after 'authority x509 revoke' and its live connection was closed by {closedAfter.TotalSeconds:0.0} s; web, re-issued, still gets through");
    }

    /// <summary>What both gates recorded last about a failed call from <paramref name="pid"/>, for the error message.</summary>
    private static string GateRecords(DemoContext demo, int pid)
    {
        static string Describe(AuditLine? r) =>
            r is null ? "no record" : $"{r.Decision} {r.Reason ?? "-"} local={r.SpiffeId ?? "-"} peer={r.PeerSpiffeId ?? "-"} at {r.Time}";

        var outbound = AuditLine.ReadAll(demo.Web.AuditFile).LastOrDefault(r => r.Pid == pid);
        var inbound = AuditLine.ReadAll(demo.Api.AuditFile).LastOrDefault(r => r.Direction == "inbound");
        return $"web's gate: {Describe(outbound)}; payments' gate, last inbound: {Describe(inbound)}";
    }
}
