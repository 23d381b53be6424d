using Anchorage.Foundation.Config;

namespace Anchorage.Server.Config;

/// <summary>The <c>console</c> section (docs/server.yaml): the read-only web console's listener, certificate and session lifetime.</summary>
public static partial class ServerConfigLoader
{
    private static ConsoleOptions? ReadConsole(ConfigNode? node, ListenerOptions listen, BundleEndpointOptions? bundleEndpoint)
    {
        var section = node?.Map();
        if (section is null)
        {
            return null;
        }

        var (listenNode, address, certNode, servingCert) = ReadServedListener(section);
        var ttlNode = section.Get("sessionTtl");
        var ttl = Positive(ttlNode);
        RejectUnknownKeysAndRequireListen(section, listenNode);
        if (ttl is { } value && value > ConsoleOptions.MaxSessionTtl)
        {
            ttlNode!.Error($"must be at most {Durations.Format(ConsoleOptions.MaxSessionTtl)}");
            ttl = null;
        }

        if (address is not null)
        {
            if (!CollidesWithServerListeners(listenNode!, address, listen) && bundleEndpoint is not null && Overlaps(address, bundleEndpoint.Listen))
            {
                listenNode!.Error("must differ from federation.bundleEndpoint.listen");
            }

            // Session cookies and read access in clear text only where nobody else is on the wire.
            if (certNode is null && !IsLoopback(address))
            {
                section.Errors.Add(
                    section.PathOf("servingCert"),
                    $"required when listen is not a loopback address ({address}): the console serves https only off loopback",
                    listenNode!.Line);
            }
        }

        return address is null || (certNode is not null && servingCert is null) || (certNode is null && !IsLoopback(address))
            ? null
            : new ConsoleOptions { Listen = address, ServingCert = servingCert, SessionTtl = ttl ?? ConsoleOptions.DefaultSessionTtl };
    }

    private static bool IsLoopback(HostPort address) =>
        address.IsLocalhost || (System.Net.IPAddress.TryParse(address.Host, out var ip) && System.Net.IPAddress.IsLoopback(ip));
}
