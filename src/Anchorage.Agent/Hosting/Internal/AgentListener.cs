namespace Anchorage.Agent.Hosting.Internal;

/// <summary>The agent's listeners; every endpoint is reachable on the listeners its metadata names only.</summary>
internal enum AgentListener
{
    /// <summary>The Workload API: the unix socket and the optional loopback TCP listener.</summary>
    WorkloadApi,

    /// <summary>The admin unix socket, callers checked by uid.</summary>
    Admin,

    /// <summary>Plain HTTP/1.1: <c>/live</c>, <c>/ready</c>, <c>/metrics</c>.</summary>
    Health,
}
