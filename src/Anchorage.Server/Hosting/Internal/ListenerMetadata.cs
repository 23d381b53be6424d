namespace Anchorage.Server.Hosting.Internal;

/// <summary>Endpoint metadata: the listeners an endpoint may be reached on. Endpoints without it are reachable on none.</summary>
internal sealed class ListenerMetadata(params ServerListener[] listeners)
{
    public bool Allows(ServerListener listener) => listeners.Contains(listener);
}
