using Anchorage.Cli.Internal;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Logging;

namespace Anchorage.Cli.Tests.Internal;

/// <summary>
/// What <c>server run</c> and <c>agent run</c> do with an exception nothing handled: one stderr
/// line naming the daemon, the exception's type and message, and exit 70 instead of an abort.
/// </summary>
public sealed class DaemonRunnerTests
{
    private sealed record Options(LoggingOptions Logging);

    [Fact]
    public async Task RunAsync_MainLoopThrowsUnexpectedly_ExitsSeventyWithOneLine()
    {
        using var error = new StringWriter();
        var context = new CliContext(TextWriter.Null, error, TimeProvider.System);

        var code = await DaemonRunner.RunAsync(
            context,
            new ConfigResult<Options>(new Options(new LoggingOptions())),
            "agent",
            o => o.Logging,
            (_, _, _) => throw new KeyNotFoundException("the cache had no entry\nfor pid 42"),
            ex => ex is IOException,
            CancellationToken.None);

        Assert.Equal(ExitCodes.Internal, code);
        Assert.Equal(
            "error: agent stopped on an unexpected error in its main loop: KeyNotFoundException: the cache had no entry\n",
            error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task RunAsync_StartFailure_StaysUsageErrorNotInternal()
    {
        // Positive control for the classification: a start failure keeps exit 2 and its own wording.
        using var error = new StringWriter();
        var context = new CliContext(TextWriter.Null, error, TimeProvider.System);

        var failure = await Assert.ThrowsAsync<CliException>(() => DaemonRunner.RunAsync(
            context,
            new ConfigResult<Options>(new Options(new LoggingOptions())),
            "agent",
            o => o.Logging,
            (_, _, _) => throw new IOException("/run/anchorage/agent.sock: address in use"),
            ex => ex is IOException,
            CancellationToken.None));

        Assert.Equal(ExitCodes.UsageOrIo, failure.ExitCode);
        Assert.Equal("error: agent failed to start: /run/anchorage/agent.sock: address in use", failure.Message);
        Assert.Equal(string.Empty, error.ToString());
    }

    [Fact]
    public async Task RunAsync_StoppedBySignal_ExitsZero()
    {
        using var error = new StringWriter();
        using var stop = new CancellationTokenSource();
        var context = new CliContext(TextWriter.Null, error, TimeProvider.System);

        var code = await DaemonRunner.RunAsync(
            context,
            new ConfigResult<Options>(new Options(new LoggingOptions())),
            "server",
            o => o.Logging,
            async (_, _, token) =>
            {
                await stop.CancelAsync();
                await Task.Delay(Timeout.Infinite, token);
            },
            _ => false,
            stop.Token);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal(string.Empty, error.ToString());
    }
}
