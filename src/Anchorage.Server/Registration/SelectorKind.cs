namespace Anchorage.Server.Registration;

/// <summary>Who produces a selector type, and so which entries may use it.</summary>
public enum SelectorKind
{
    /// <summary>Produced by an agent's workload attestor (e.g. <c>unix</c>); used by workload entries.</summary>
    Workload,

    /// <summary>Produced by node attestation (e.g. <c>join_token</c>); used by node-alias entries (parent = the server ID).</summary>
    Node,
}
