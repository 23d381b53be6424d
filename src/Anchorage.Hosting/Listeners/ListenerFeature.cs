namespace Anchorage.Hosting.Listeners;

/// <summary>Set on every connection: the host's listener it arrived on.</summary>
/// <typeparam name="TListener">The host's listener enum.</typeparam>
/// <param name="Listener">The listener.</param>
public sealed record ListenerFeature<TListener>(TListener Listener)
    where TListener : struct, Enum;
