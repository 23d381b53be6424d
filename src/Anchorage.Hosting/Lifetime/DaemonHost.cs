using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Anchorage.Hosting.Lifetime;

/// <summary>What the server and the agent do alike to build and run their web host.</summary>
public static class DaemonHost
{
    /// <summary>
    /// A slim web application builder that takes nothing from appsettings, the environment or a
    /// Kestrel config section (everything comes from the host's own options, so nothing adds a
    /// listener behind its back), logging to <paramref name="loggerFactory"/> when one is given.
    /// </summary>
    /// <remarks>
    /// The builder's defaults load appsettings.json from the content root (the working directory)
    /// with reload on change, which puts a recursive inotify watch on that directory before
    /// <c>Sources.Clear()</c> can drop it. A daemon started by systemd runs in <c>/</c>: that was a
    /// watch on every directory of the machine, using up the system's inotify watches and waking
    /// the daemon on every file written anywhere. The host-builder switch below turns the reload off
    /// before the defaults are applied, so no watch is made.
    /// </remarks>
    public static WebApplicationBuilder CreateBuilder(ILoggerFactory? loggerFactory)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [NoConfigReload] });
        builder.Configuration.Sources.Clear();
        if (loggerFactory is not null)
        {
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(loggerFactory);
        }

        return builder;
    }

    // Read by the default app configuration (HostingHostBuilderExtensions) from the host configuration.
    private const string NoConfigReload = "--hostBuilder:reloadConfigOnChange=false";

    /// <summary>Runs <paramref name="host"/> until <paramref name="cancellationToken"/> fires or the host stops itself, then stops and disposes it.</summary>
    public static async Task RunUntilStoppedAsync(IRunningHost host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        await using (host.ConfigureAwait(false))
        {
            await WaitForStopAsync(host.Services, cancellationToken).ConfigureAwait(false);
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Completes when <paramref name="cancellationToken"/> fires or the host starts stopping itself.</summary>
    public static async Task WaitForStopAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (cancellationToken.Register(() => stopped.TrySetResult()))
        using (lifetime.ApplicationStopping.Register(() => stopped.TrySetResult()))
        {
            await stopped.Task.ConfigureAwait(false);
        }
    }
}
