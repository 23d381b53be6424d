namespace Anchorage.Server.Hosting.Internal;

/// <summary>Set on every connection: which listener accepted it.</summary>
internal sealed record ListenerFeature(ServerListener Listener);
