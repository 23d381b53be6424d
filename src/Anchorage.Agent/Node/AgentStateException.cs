namespace Anchorage.Agent.Node;

/// <summary>The agent's saved state in its data directory cannot be used; the message names the file and the problem.</summary>
public sealed class AgentStateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AgentStateException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
