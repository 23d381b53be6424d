namespace Anchorage.Server.DataStore;

/// <summary>What a conditional node update did.</summary>
public enum NodeUpdateResult
{
    /// <summary>The condition held; the row was changed.</summary>
    Updated,

    /// <summary>No such node (evicted or never attested).</summary>
    NotFound,

    /// <summary>The node is banned; nothing was changed.</summary>
    Banned,

    /// <summary>The node's current SVID is no longer the expected one (a concurrent renewal or promotion won); nothing was changed.</summary>
    Conflict,
}
