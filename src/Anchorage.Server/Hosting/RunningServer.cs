using Anchorage.Hosting.Audit;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;

namespace Anchorage.Server.Hosting;

/// <summary>A started server: its listeners, CA, datastore and audit trail. Disposing stops it in reverse order.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    private readonly UpstreamAuthority? _upstream;
    private readonly AuditLog? _audit;

    internal RunningServer(ServerHostHandle host, CaManager ca, IDataStore store, UpstreamAuthority? upstream, FederationRefresher refresher, AuditLog? audit = null)
    {
        _audit = audit;
        Federation = refresher;
        Host = host;
        Ca = ca;
        Store = store;
        _upstream = upstream;
    }

    /// <summary>The listeners (bound endpoints, admin socket path).</summary>
    public ServerHostHandle Host { get; }

    /// <summary>The CA manager.</summary>
    public CaManager Ca { get; }

    /// <summary>The datastore.</summary>
    public IDataStore Store { get; }

    /// <summary>The refresher of federated bundles.</summary>
    public FederationRefresher Federation { get; }

    /// <summary>The audit trail (<c>audit:</c> in server.yaml); null when none is configured.</summary>
    public AuditLog? Audit => _audit;

    public async ValueTask DisposeAsync()
    {
        await Federation.DisposeAsync().ConfigureAwait(false);
        await Host.DisposeAsync().ConfigureAwait(false);
        await Ca.DisposeAsync().ConfigureAwait(false);
        _upstream?.Dispose();
        await Store.DisposeAsync().ConfigureAwait(false);
        if (_audit is not null)
        {
            // Last: writes what the parts recorded while stopping, then flushes the file.
            await _audit.DisposeAsync().ConfigureAwait(false);
        }
    }
}
