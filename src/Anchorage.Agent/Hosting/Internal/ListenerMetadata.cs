namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Endpoint metadata: the listeners an endpoint may be reached on. Endpoints without it are reachable on none.</summary>
internal sealed class ListenerMetadata(params AgentListener[] listeners)
{
    public bool Allows(AgentListener listener) => listeners.Contains(listener);
}
