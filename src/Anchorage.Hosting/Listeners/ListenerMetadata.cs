namespace Anchorage.Hosting.Listeners;

/// <summary>Endpoint metadata: the listeners an endpoint answers on (and no other).</summary>
/// <typeparam name="TListener">The host's listener enum.</typeparam>
public sealed class ListenerMetadata<TListener>(params TListener[] listeners)
    where TListener : struct, Enum
{
    /// <summary>Whether the endpoint answers on <paramref name="listener"/>.</summary>
    public bool Allows(TListener listener) => listeners.Contains(listener);
}
