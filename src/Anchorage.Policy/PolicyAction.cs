namespace Anchorage.Policy;

/// <summary>What a rule does to the connections it matches. An explicit deny wins over any allow.</summary>
public enum PolicyAction
{
    /// <summary>The connection may proceed.</summary>
    Allow,

    /// <summary>The connection is refused, whatever other rules allow.</summary>
    Deny,
}
