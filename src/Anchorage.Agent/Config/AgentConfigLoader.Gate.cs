using System.Globalization;
using System.Text;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Config;

/// <content>Reads the <c>gate:</c> section into <see cref="GateOptions"/>.</content>
public static partial class AgentConfigLoader
{
    private const string UnixScheme = "unix://";
    private const string TcpScheme = "tcp://";

    private static GateOptions? ReadGate(ConfigMap root)
    {
        var node = root.Get("gate");
        if (node is null)
        {
            return null;
        }

        var section = node.Map();
        if (section is null)
        {
            return null;
        }

        var policyFile = section.Get("policyFile")?.AbsolutePath();
        var audit = AuditConfig.Read(section.Get("audit"));
        var closeNode = section.Get("closeOnRevoke");
        var closeOnRevoke = closeNode is null ? true : ReadBoolean(closeNode) ?? true;
        var (maxConnections, perUid) = ReadConnectionCaps(section, "gate", GateOptions.DefaultMaxConnections, GateOptions.DefaultMaxConnectionsPerUid);
        var idle = ReadIdleTimeout(section, MaxGateIdleTimeout);
        var tunnelsNode = section.Get("tunnels");
        var tunnels = tunnelsNode is not null && (ReadBoolean(tunnelsNode) ?? false);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
        var outbound = ReadMaps(section.Get("outbound")?.List(), map => ReadOutbound(map, names, addresses));
        var inbound = ReadMaps(section.Get("inbound")?.List(), map => ReadInbound(map, names, addresses));

        var transparentNode = section.Get("transparent");
        var transparent = transparentNode?.Map() is { } transparentMap ? ReadTransparent(transparentMap, names) : null;
        section.RejectUnknownKeys();
        return new GateOptions
        {
            PolicyFile = policyFile,
            Audit = audit,
            CloseOnRevoke = closeOnRevoke,
            MaxConnections = maxConnections,
            MaxConnectionsPerUid = perUid,
            IdleTimeout = idle ?? GateOptions.DefaultIdleTimeout,
            Tunnels = tunnels,
            Outbound = outbound,
            Inbound = inbound,
            Transparent = transparent,
        };
    }

    private static GateOutboundOptions? ReadOutbound(ConfigMap map, Dictionary<string, string> names, Dictionary<string, string> addresses)
    {
        var name = ReadListenerName(map, names);
        var listenNode = map.GetRequired("listen");
        GateListenAddress? listen = null;
        if (listenNode is not null)
        {
            listen = ReadListenAddress(listenNode, allowUnix: true);
            if (listen?.Tcp is { } tcp && !IsLoopbackAddress(tcp))
            {
                // Attribution reads the caller's socket from this node's tables: only loopback callers can be attributed.
                listenNode.Error($"host {ConfigText.Quote(tcp.Host)} must be a loopback IP address (127.0.0.0/8 or [::1]): only local callers can be attributed to a process");
                listen = null;
            }

            if (listen is not null && !ClaimAddress(listenNode, listen, addresses))
            {
                listen = null;
            }
        }

        HostPort? target = null;
        if (map.GetRequired("target") is { } targetNode && targetNode.Scalar() is { } targetText)
        {
            if (Endpoints.TryParseDial(targetText, out var address, out var error))
            {
                target = address;
            }
            else
            {
                targetNode.Error(error);
            }
        }

        var (peer, peerTd) = ReadPeer(map);
        var tunnels = map.Get("tunnels") is { } tunnelsNode ? ReadBoolean(tunnelsNode) : null;
        map.RejectUnknownKeys();
        if (name is null || listen is null || target is null || (peer is null && peerTd is null))
        {
            return null;
        }

        return new GateOutboundOptions { Name = name, Listen = listen, Target = target, Peer = peer, PeerTrustDomain = peerTd, Tunnels = tunnels };
    }

    private static GateInboundOptions? ReadInbound(ConfigMap map, Dictionary<string, string> names, Dictionary<string, string> addresses)
    {
        var name = ReadListenerName(map, names);
        HostPort? listen = null;
        if (map.GetRequired("listen") is { } listenNode && ReadListenAddress(listenNode, allowUnix: false) is { } address && ClaimAddress(listenNode, address, addresses))
        {
            listen = address.Tcp;
        }

        var forward = map.GetRequired("forward") is { } forwardNode ? ReadForward(forwardNode, ipv4Only: false) : null;
        map.RejectUnknownKeys();
        return name is null || listen is null || forward is null
            ? null
            : new GateInboundOptions { Name = name, Listen = listen, Forward = forward };
    }

    // forward: where the gate hands an accepted connection, always a process on this node (inbound
    // listeners; steered ports, which take IPv4 only).
    private static HostPort? ReadForward(ConfigNode node, bool ipv4Only)
    {
        if (node.Endpoint() is not { } endpoint)
        {
            return null;
        }

        if (!IsLoopbackAddress(endpoint, ipv4Only))
        {
            node.Error(ipv4Only
                ? $"host {ConfigText.Quote(endpoint.Host)} must be an IPv4 loopback address (127.0.0.0/8): the gate forwards to a process on this node"
                : $"host {ConfigText.Quote(endpoint.Host)} must be a loopback IP address (127.0.0.0/8 or [::1]): the gate forwards to a process on this node");
            return null;
        }

        if (endpoint.Port == 0)
        {
            node.Error("port \"0\" must be a number from 1 to 65535");
            return null;
        }

        return endpoint;
    }

    // peer or peerTrustDomain: exactly one (outbound listeners and transparent destinations).
    private static (SpiffeId? Peer, TrustDomain? PeerTrustDomain) ReadPeer(ConfigMap map)
    {
        var peerNode = map.Get("peer");
        var peerTdNode = map.Get("peerTrustDomain");
        if (peerNode is not null && peerTdNode is not null)
        {
            peerTdNode.Error("set only one of peer and peerTrustDomain");
        }
        else if (peerNode is null && peerTdNode is null)
        {
            map.Errors.Add(map.PathOf("peer"), "either peer or peerTrustDomain is required", map.Line);
        }
        else if (peerNode?.Scalar() is { } peerText)
        {
            if (SpiffeId.TryParse(peerText, out var id, out var error))
            {
                return (id, null);
            }

            peerNode.Error(error);
        }
        else if (peerTdNode?.Scalar() is { } tdText)
        {
            if (TrustDomain.TryParse(tdText, out var td, out var error))
            {
                return (null, td);
            }

            peerTdNode.Error(error);
        }

        return (null, null);
    }

    // Names label audit records and metrics: short, plain, unique across the gate.
    private static string? ReadListenerName(ConfigMap map, Dictionary<string, string> names)
    {
        if (map.GetRequired("name") is not { } node || node.Scalar() is not { } text)
        {
            return null;
        }

        if (text.Length is 0 or > 63 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            node.Error($"{ConfigText.Quote(text)} must be 1 to 63 letters, digits, '-', '_' or '.'");
            return null;
        }

        if (names.TryGetValue(text, out var first))
        {
            node.Error($"{ConfigText.Quote(text)} is already the name of {first}");
            return null;
        }

        names[text] = map.Path;
        return text;
    }

    private static GateListenAddress? ReadListenAddress(ConfigNode node, bool allowUnix)
    {
        var text = node.Scalar();
        if (text is null)
        {
            return null;
        }

        if (allowUnix && text.StartsWith(UnixScheme, StringComparison.Ordinal))
        {
            var path = text[UnixScheme.Length..];
            if (!Path.IsPathFullyQualified(path))
            {
                node.Error($"{ConfigText.Quote(text)} must name an absolute path (unix:///run/anchorage/out/app.sock)");
                return null;
            }

            if (Encoding.UTF8.GetByteCount(path) > MaxSocketPathBytes)
            {
                node.Error(string.Create(CultureInfo.InvariantCulture, $"{ConfigText.Quote(path)} is longer than {MaxSocketPathBytes} bytes, the limit of a unix socket path"));
                return null;
            }

            return GateListenAddress.Unix(path);
        }

        if (text.StartsWith(TcpScheme, StringComparison.Ordinal))
        {
            if (Endpoints.TryParse(text[TcpScheme.Length..], out var address, out var error))
            {
                return GateListenAddress.TcpAt(address);
            }

            node.Error(error);
            return null;
        }

        node.Error(allowUnix
            ? $"{ConfigText.Quote(text)} must be unix:///absolute/path or tcp://IP:PORT"
            : $"{ConfigText.Quote(text)} must be tcp://IP:PORT");
        return null;
    }

    // Two gate listeners on one socket path or one fixed port would fail at start with a bind error.
    private static bool ClaimAddress(ConfigNode node, GateListenAddress address, Dictionary<string, string> addresses)
    {
        string key;
        if (address.UnixPath is { } path)
        {
            key = "unix:" + NormalizePath(path);
        }
        else if (address.Tcp is { Port: not 0 } tcp)
        {
            key = "tcp:" + tcp.Port.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            return true;
        }

        if (addresses.TryGetValue(key, out var first))
        {
            node.Error($"must differ from {first}");
            return false;
        }

        addresses[key] = node.Path;
        return true;
    }
}
