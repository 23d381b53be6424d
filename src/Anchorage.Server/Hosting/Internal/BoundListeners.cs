using System.Net;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>
/// The addresses the listeners actually bound (the real port when 0 was configured), filled in
/// by <see cref="ServerHost"/> once Kestrel has started; read by the admin API's GetServerInfo and CreateConsoleLogin.
/// </summary>
internal sealed class BoundListeners
{
    private IPEndPoint? _bundleEndpoint;
    private string? _consoleBaseUrl;

    /// <summary>The bundle endpoint's bound address; null before start or when none is configured.</summary>
    public IPEndPoint? BundleEndpoint
    {
        get => Volatile.Read(ref _bundleEndpoint);
        set => Volatile.Write(ref _bundleEndpoint, value);
    }

    /// <summary>The web console's <c>scheme://host:port</c> (the real port); null before start or when no console is configured.</summary>
    public string? ConsoleBaseUrl
    {
        get => Volatile.Read(ref _consoleBaseUrl);
        set => Volatile.Write(ref _consoleBaseUrl, value);
    }
}
