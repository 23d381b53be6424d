using System.Runtime.InteropServices;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Anchorage.Cli.Internal;

/// <summary>
/// What <c>server run</c> and <c>agent run</c> share: a config with errors prints every error and
/// exits 2 (nothing starts); otherwise the process runs with single-line UTC console logs until
/// SIGINT or SIGTERM, and a start failure is one line on stderr. The log goes to stdout as one
/// line per event: text, or JSON with <c>logging: { format: json }</c> (<see cref="JsonLineLogFormatter"/>).
/// </summary>
internal static class DaemonRunner
{
    public static async Task<int> RunAsync<TOptions>(
        CliContext context,
        ConfigResult<TOptions> loaded,
        string name,
        Func<TOptions, LoggingOptions> logging,
        Func<TOptions, ILoggerFactory, CancellationToken, Task> run,
        Func<Exception, bool> isStartFailure,
        CancellationToken cancellationToken)
        where TOptions : class
    {
        if (!loaded.IsValid)
        {
            foreach (var line in loaded.ErrorLines)
            {
                await context.Error.WriteLineAsync(line).ConfigureAwait(false);
            }

            return ExitCodes.UsageOrIo;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            signal.Cancel = true;
            stop.Cancel();
        });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal =>
        {
            signal.Cancel = true;
            stop.Cancel();
        });
        var format = logging(loaded.Value).Format;
        using var loggerFactory = LoggerFactory.Create(builder =>
        {
            if (format == LogFormat.Json)
            {
                builder.Services.AddSingleton(context.Time);
                builder.AddConsole(o => o.FormatterName = JsonLineLogFormatter.FormatterName)
                    .AddConsoleFormatter<JsonLineLogFormatter, ConsoleFormatterOptions>();
            }
            else
            {
                builder.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    o.UseUtcTimestamp = true;
                });
            }

            builder.SetMinimumLevel(LogLevel.Information)

                // Per-request framework chatter buries Anchorage's own events.
                .AddFilter("Microsoft", LogLevel.Warning)
                .AddFilter("Grpc", LogLevel.Warning);
        });
        var log = loggerFactory.CreateLogger("Anchorage.Daemon");

        // An exception on a thread nobody awaits (a timer, a callback) would end the process with
        // SIGABRT (exit 134) and a stack trace on stderr only: log it like any other event first.
        void OnUnhandled(object sender, UnhandledExceptionEventArgs e)
        {
            var code = LastChance(context, log, name, "a background thread", e.ExceptionObject as Exception);
            loggerFactory.Dispose(); // flushes the console logger's queue
            Environment.Exit(code);
        }

        AppDomain.CurrentDomain.UnhandledException += OnUnhandled;
        try
        {
            await run(loaded.Value, loggerFactory, stop.Token).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while still waiting for a dependency (datastore, server).
            return ExitCodes.Success;
        }
        catch (Exception ex) when (isStartFailure(ex))
        {
            throw CliException.Usage($"{name} failed to start: " + CliApp.OneLine(ex.Message));
        }
        catch (Exception ex)
        {
            return LastChance(context, log, name, "its main loop", ex);
        }
        finally
        {
            AppDomain.CurrentDomain.UnhandledException -= OnUnhandled;
        }
    }

    /// <summary>
    /// Logs an exception nothing handled (event 9900, with its stack) and writes one line to stderr;
    /// the exit code to stop with.
    /// </summary>
    internal static int LastChance(CliContext context, ILogger log, string name, string where, Exception? exception)
    {
        exception ??= new InvalidOperationException("an exception object that is not a System.Exception");
        DaemonLog.Unexpected(log, name, where, exception);
        context.Error.WriteLine($"error: {name} stopped on an unexpected error in {where}: {exception.GetType().Name}: {CliApp.OneLine(exception.Message)}");
        context.Error.Flush();

        return ExitCodes.Internal;
    }
}
