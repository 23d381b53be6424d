namespace Anchorage.Hosting.Lifetime;

/// <summary>A started web host (the server's or the agent's handle), as <see cref="DaemonHost.RunUntilStoppedAsync"/> runs it.</summary>
public interface IRunningHost : IAsyncDisposable
{
    /// <summary>The host's services.</summary>
    IServiceProvider Services { get; }

    /// <summary>Stops the host gracefully.</summary>
    Task StopAsync(CancellationToken cancellationToken = default);
}
