namespace Anchorage.Agent.Node;

/// <summary>The agent cannot obtain an identity of its own; the message says why and what the operator can do.</summary>
public sealed class AgentStartException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AgentStartException(string message)
        : base(message)
    {
    }
}
