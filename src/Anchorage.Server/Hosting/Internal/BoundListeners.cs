using System.Net;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>
/// The addresses the listeners actually bound (the real port when 0 was configured), filled in
/// by <see cref="ServerHost"/> once Kestrel has started; read by the admin API's GetServerInfo.
/// </summary>
internal sealed class BoundListeners
{
    private IPEndPoint? _bundleEndpoint;

    /// <summary>The bundle endpoint's bound address; null before start or when none is configured.</summary>
    public IPEndPoint? BundleEndpoint
    {
        get => Volatile.Read(ref _bundleEndpoint);
        set => Volatile.Write(ref _bundleEndpoint, value);
    }
}
