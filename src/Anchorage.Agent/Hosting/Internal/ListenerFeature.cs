namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Set on every connection: which listener accepted it.</summary>
internal sealed record ListenerFeature(AgentListener Listener);
