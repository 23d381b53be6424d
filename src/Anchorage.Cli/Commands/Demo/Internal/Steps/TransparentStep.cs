using System.Globalization;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>The transparent-interception step of <c>anchorage demo</c> (its fixture: <see cref="TransparentDemo"/>).</summary>
internal sealed partial class DemoRun
{
    private async Task<string> TransparentAsync(CancellationToken cancellationToken)
    {
        if (_transparent is not { } demo)
        {
            _console.Info("skipped: " + _transparentSkipped);
            return "skipped on this machine: " + _transparentSkipped;
        }

        // 1. A plain client (no gate address, no TLS) in the demo's cgroup calls payments' real
        //    address; the kernel hands the connection to web's gate, which presents the client's own SVID.
        var real = "tcp://" + DemoEndpoint.Loopback(_inboundPort);
        var before = ServiceConnections;
        var (code, output, pid) = await CallAsync(demo.InCgroup(_anchorage), Web, real, "plain text to the real address", cancellationToken).ConfigureAwait(false);
        if (code != 0 || !output.StartsWith("payments.acme.corp/api: plain text to the real address", StringComparison.Ordinal))
        {
            throw new DemoStepException($"the plain client calling {real} got no reply (exit {code}): {CliApp.OneLine(output)}");
        }

        await WaitAsync(() => ServiceConnections > before, "the payments service to see the intercepted connection", cancellationToken).ConfigureAwait(false);
        var allowed = await WaitAuditAsync(Web, r => r.Pid == pid && r.Decision == "allow", $"an allow record for the plain client's pid {pid}", cancellationToken).ConfigureAwait(false);
        _console.Info($"plain client pid {pid} -> {real}: \"{CliApp.OneLine(output)}\" (intercepted, sent as {allowed.SpiffeId ?? WebId}, attribution {allowed.Attribution})");

        // 2. bash connects to the same address, then exec's the registered binary on that connection.
        before = ServiceConnections;
        (code, output, pid) = await CallAsync(demo.ExecAfterConnect(_anchorage, _inboundPort), Web, "fd:3", "exec after connect", cancellationToken).ConfigureAwait(false);
        if (code == 0)
        {
            throw new DemoStepException($"exec after connect got a reply (pid {pid}): {CliApp.OneLine(output)}");
        }

        var denied = await WaitAuditAsync(Web, r => r.Pid == pid && r.Decision == "deny", $"a deny record for the exec-after-connect pid {pid}", cancellationToken).ConfigureAwait(false);
        var bash = Anchorage.Agent.Attestation.ExecutableFile.AuditName(demo.Bash);
        if (denied.Attribution != "kernel" || denied.ExeFile != bash)
        {
            throw new DemoStepException($"the deny record for pid {pid} does not name bash ({bash}) as the binary that connected: attribution {denied.Attribution}, exeFile {denied.ExeFile}");
        }

        if (ServiceConnections != before)
        {
            throw new DemoStepException("the payments service saw the exec-after-connect connection");
        }

        _console.Info($"audit: deny pid={pid} exeFile={denied.ExeFile} ({demo.Bash}, the binary that called connect()) reason={denied.Reason ?? denied.Rule}");
        return $"the plain client was served as {WebId} through web's gate; bash that exec'd {Path.GetFileName(_anchorage.FileName)} after connecting was denied, and the audit names bash ({denied.ExeFile})";
    }
}
