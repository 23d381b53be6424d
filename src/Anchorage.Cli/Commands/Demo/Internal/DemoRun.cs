using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;
using Anchorage.Cli.Commands.Demo.Internal.Steps;

namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>
/// One run of <c>anchorage demo</c>: <see cref="Steps"/> in order, each with a check, over two
/// trust domains of a <see cref="LocalCluster"/> in a temporary directory. The first step that does
/// not behave stops the run; everything it started is stopped and the directory removed either way.
/// </summary>
internal sealed class DemoRun : IAsyncDisposable
{
    /// <summary>The steps, in order; a step's number is its position here.</summary>
    public static readonly IReadOnlyList<DemoStep> Steps =
    [
        new StartServersStep(),
        new FederateStep(),
        new ApplyPoliciesStep(),
        new StartServiceStep(),
        new StartAgentsStep(),
        new RegisterWorkloadsStep(),
        new AllowedCallStep(),
        new RogueStep(),
        new TransparentStep(),
        new PolicyDeniedStep(),
        new RotationStep(),
        new RevocationStep(),
        new AuditStep(),
        new InventoryStep(),
    ];

    private readonly CliContext _context;
    private readonly DemoOptions _options;
    private readonly LocalCluster _cluster;
    private readonly DemoContext _demo;

    public DemoRun(CliContext context, DemoOptions options)
    {
        _context = context;
        _options = options;
        var dir = Directory.CreateTempSubdirectory("anchorage-demo-").FullName;

        // The rogue may run as nobody; it must reach the gate's socket under this directory.
        ClusterFiles.Chmod(dir, ClusterFiles.DirectoryMode);
        _cluster = new LocalCluster(dir, SelfCommand.Anchorage(), context, new DemoConsole(context.Out)) { Keep = options.Keep };
        _demo = new DemoContext(_cluster);
    }

    /// <summary>Runs every step; 0 when all behaved, 1 and the failing step's name otherwise.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var console = _cluster.Console;
        console.Title($"anchorage demo: two trust domains on loopback, working in {_cluster.Dir}");
        var total = Stopwatch.StartNew();
        for (var i = 0; i < Steps.Count; i++)
        {
            var step = Steps[i];
            console.Step(i + 1, Steps.Count, step.Title);
            var clock = Stopwatch.StartNew();
            string? failure;
            try
            {
                var detail = _options.Sabotage == step.Name
                    ? throw new DemoStepException("sabotaged on request (--sabotage " + step.Name + ")")
                    : await step.RunAsync(_demo, cancellationToken).ConfigureAwait(false);
                console.Ok(detail, clock.Elapsed);
                continue;
            }
            catch (DemoStepException ex)
            {
                failure = ex.Message;
            }
            catch (CliException ex)
            {
                failure = CliApp.OneLine(ex.Message);
            }
            catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException or InvalidOperationException or FormatException or System.ComponentModel.Win32Exception or System.Security.Cryptography.CryptographicException)
            {
                failure = CliApp.OneLine(ex.Message);
            }

            console.Fail(failure, clock.Elapsed);
            console.Done($"demo: step {i + 1} '{step.Name}' failed", success: false);
            await _context.Error.WriteLineAsync($"demo: step '{step.Name}' failed: {failure}").ConfigureAwait(false);
            return ExitCodes.Rejected;
        }

        console.Done(string.Create(CultureInfo.InvariantCulture, $"demo: every step behaved as expected ({Steps.Count} steps, {total.Elapsed.TotalSeconds:0} s)"), success: true);
        return ExitCodes.Success;
    }

    /// <summary>Stops every child (newest first), then the transparent fixture, and removes the directory unless asked to keep it.</summary>
    public async ValueTask DisposeAsync()
    {
        // The agents own the eBPF links: they go before the cgroup does.
        await _cluster.StopAllAsync().ConfigureAwait(false);
        _demo.Transparent?.Dispose();
        if (_options.Keep)
        {
            await _context.Error.WriteLineAsync($"demo: kept {_cluster.Dir} (logs, configs, audit files)").ConfigureAwait(false);
        }

        await _cluster.DisposeAsync().ConfigureAwait(false);
    }
}
