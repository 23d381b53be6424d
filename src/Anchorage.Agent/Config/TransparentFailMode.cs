namespace Anchorage.Agent.Config;

/// <summary>What intercepted connections get while the agent is down (<c>gate.transparent.failMode</c>).</summary>
public enum TransparentFailMode
{
    /// <summary>The programs stay attached (pinned in bpffs): intercepted connections are refused until the agent is back.</summary>
    Closed,

    /// <summary>The programs detach with the agent's process: traffic flows unintercepted (plain text) until the agent is back.</summary>
    Open,
}
