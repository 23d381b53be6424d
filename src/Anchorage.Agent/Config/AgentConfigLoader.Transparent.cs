using System.Globalization;
using System.Net;
using Anchorage.Foundation.Config;

namespace Anchorage.Agent.Config;

/// <content>Reads <c>gate.transparent</c> into <see cref="GateTransparentOptions"/>.</content>
public static partial class AgentConfigLoader
{
    private const int MaxTransparentDestinations = 64;

    private static GateTransparentOptions? ReadTransparent(ConfigMap map, Dictionary<string, string> names)
    {
        var defaults = new GateTransparentOptions();
        var listen = defaults.Listen;
        var listenNode = map.Get("listen");
        var listenValid = true;
        if (listenNode?.Scalar() is { } listenText)
        {
            listenValid = false;
            if (!listenText.StartsWith(TcpScheme, StringComparison.Ordinal))
            {
                listenNode.Error($"{ConfigText.Quote(listenText)} must be tcp://IP:PORT");
            }
            else if (!Endpoints.TryParse(listenText[TcpScheme.Length..], out var address, out var error))
            {
                listenNode.Error(error);
            }
            else if (!IsLoopbackAddress(address, ipv4Only: true))
            {
                listenNode.Error($"host {ConfigText.Quote(address.Host)} must be an IPv4 loopback address (127.0.0.0/8): redirected connections stay on this node");
            }
            else
            {
                listen = address;
                listenValid = true;
            }
        }
        else if (listenNode is not null)
        {
            listenValid = false;
        }

        var failMode = defaults.FailMode;
        var failNode = map.Get("failMode");
        switch (failNode?.Scalar())
        {
            case null:
            case "closed":
                break;
            case "open":
                failMode = TransparentFailMode.Open;
                break;
            case var other:
                failNode!.Error($"{ConfigText.Quote(other)} must be closed or open");
                break;
        }

        // Closed mode keeps redirecting to this port while the agent is down: it must not be one the kernel hands out to anyone.
        if (failMode == TransparentFailMode.Closed && listenValid && listen.Port == 0)
        {
            (listenNode ?? failNode)!.Error("port 0 cannot be used with failMode closed: the programs keep redirecting to the port while the agent is down");
        }

        var pinDir = defaults.PinDirectory;
        if (map.Get("pinDir") is { } pinNode && pinNode.AbsolutePath() is { } pinPath)
        {
            if (!pinPath.StartsWith("/sys/fs/bpf/", StringComparison.Ordinal))
            {
                pinNode.Error("must be a directory under /sys/fs/bpf/ (bpffs)");
            }
            else
            {
                pinDir = pinPath;
            }
        }

        var inbound = ReadSteered(map, names);

        // Outbound interception (cgroups + destinations) is optional when inbound ports are steered.
        var outboundOptional = map.Get("inbound") is not null && map.Get("destinations") is null && map.Get("cgroups") is null;
        var all = false;
        var cgroups = new List<string>();
        var cgroupsNode = map.Get("cgroups");
        if (cgroupsNode is null)
        {
            if (!outboundOptional)
            {
                map.Required("cgroups");
            }
        }
        else if (cgroupsNode.Node is YamlDotNet.RepresentationModel.YamlScalarNode)
        {
            if (cgroupsNode.Scalar() == "all")
            {
                all = true;
            }
            else
            {
                cgroupsNode.Error("must be all or a list of cgroup v2 directories");
            }
        }
        else
        {
            foreach (var item in cgroupsNode.List() ?? [])
            {
                if (item.AbsolutePath() is not { } path)
                {
                    continue;
                }

                if (Path.TrimEndingDirectorySeparator(path) is "/sys/fs/cgroup" or "/sys/fs/cgroup/unified")
                {
                    item.Error("must not be the root cgroup: use all to intercept every process but the agent");
                    continue;
                }

                cgroups.Add(path);
            }

            if (cgroups.Count == 0 && cgroupsNode.Node is YamlDotNet.RepresentationModel.YamlSequenceNode)
            {
                cgroupsNode.Error("must name at least one cgroup (or be all)");
            }
        }

        var destinations = new List<GateTransparentDestination>();
        var destinationsNode = map.Get("destinations");
        if (destinationsNode is null)
        {
            if (!outboundOptional)
            {
                map.Required("destinations");
            }
        }
        else if (destinationsNode.List() is { } items)
        {
            if (items.Count is 0 or > MaxTransparentDestinations)
            {
                destinationsNode.Error(string.Create(CultureInfo.InvariantCulture, $"must list 1 to {MaxTransparentDestinations} destinations"));
            }

            destinations.AddRange(ReadMaps(items, destinationMap => ReadDestination(destinationMap, names)));
        }

        map.RejectUnknownKeys();
        return new GateTransparentOptions
        {
            Listen = listen,
            FailMode = failMode,
            Cgroups = cgroups,
            AllCgroups = all,
            Destinations = destinations,
            Inbound = inbound,
            PinDirectory = pinDir,
        };
    }

    private static List<GateTransparentInbound> ReadSteered(ConfigMap map, Dictionary<string, string> names)
    {
        var node = map.Get("inbound");
        if (node?.List() is not { } items)
        {
            return [];
        }

        if (items.Count is 0 or > MaxTransparentDestinations)
        {
            node.Error(string.Create(CultureInfo.InvariantCulture, $"must list 1 to {MaxTransparentDestinations} service ports"));
        }

        var ports = new Dictionary<int, string>();
        return ReadMaps(items, entry => ReadSteeredPort(entry, names, ports));
    }

    private static GateTransparentInbound? ReadSteeredPort(ConfigMap map, Dictionary<string, string> names, Dictionary<int, string> ports)
    {
        var name = ReadListenerName(map, names);
        int? port = null;
        if (map.GetRequired("port") is { } portNode && portNode.Scalar() is { } portText)
        {
            if (!TryParsePort(portText, out var parsed))
            {
                portNode.Error($"{ConfigText.Quote(portText)} must be a port from 1 to 65535");
            }
            else if (ports.TryGetValue(parsed, out var first))
            {
                portNode.Error($"{ConfigText.Quote(portText)} is already steered by {first}");
            }
            else
            {
                ports[parsed] = map.Path;
                port = parsed;
            }
        }

        var forward = map.Get("forward") is { } forwardNode
            ? ReadForward(forwardNode, ipv4Only: true)
            : port is { } steered ? new HostPort("127.0.0.1", steered) : null;

        map.RejectUnknownKeys();
        return name is null || port is null || forward is null
            ? null
            : new GateTransparentInbound { Name = name, Port = port.Value, Forward = forward };
    }

    private static GateTransparentDestination? ReadDestination(ConfigMap map, Dictionary<string, string> names)
    {
        var name = ReadListenerName(map, names);
        IPNetwork? network = null;
        if (map.GetRequired("cidr") is { } cidrNode && cidrNode.Scalar() is { } cidrText)
        {
            // IPNetwork parses 10.0.0.1/8 as 10.0.0.0/8: a base address with host bits set is refused here.
            var slash = cidrText.IndexOf('/', StringComparison.Ordinal);
            if (!IPNetwork.TryParse(cidrText, out var parsed) || slash < 0 || !parsed.BaseAddress.Equals(IPAddress.Parse(cidrText[..slash])))
            {
                cidrNode.Error($"{ConfigText.Quote(cidrText)} must be an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8 (base address with no host bits set)");
            }
            else if (parsed.BaseAddress.IsIPv4MappedToIPv6 && parsed.PrefixLength >= 96)
            {
                // The programs match IPv4-mapped destinations against the IPv4 rules.
                cidrNode.Error(string.Create(CultureInfo.InvariantCulture, $"{ConfigText.Quote(cidrText)} is IPv4-mapped: write the IPv4 network ({parsed.BaseAddress.MapToIPv4()}/{parsed.PrefixLength - 96})"));
            }
            else
            {
                network = parsed;
            }
        }

        int? low = null;
        int? high = null;
        if (map.GetRequired("ports") is { } portsNode && portsNode.Scalar() is { } portsText)
        {
            var dash = portsText.IndexOf('-', StringComparison.Ordinal);
            var first = dash < 0 ? portsText : portsText[..dash];
            var last = dash < 0 ? portsText : portsText[(dash + 1)..];
            if (!TryParsePort(first, out var lo) || !TryParsePort(last, out var hi) || hi < lo)
            {
                portsNode.Error($"{ConfigText.Quote(portsText)} must be a port (8443) or a range (8000-8999) of ports from 1 to 65535");
            }
            else
            {
                low = lo;
                high = hi;
            }
        }

        var (peer, peerTd) = ReadPeer(map);
        map.RejectUnknownKeys();
        if (name is null || network is null || low is null || high is null || (peer is null && peerTd is null))
        {
            return null;
        }

        return new GateTransparentDestination
        {
            Name = name,
            Network = network.Value,
            PortLow = low.Value,
            PortHigh = high.Value,
            Peer = peer,
            PeerTrustDomain = peerTd,
        };
    }

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
