namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// A request the tunnel server accepted as a stream: an extended CONNECT (RFC 8441 §4: <c>:method</c>
/// CONNECT with <c>:protocol</c>, <c>:scheme</c>, <c>:path</c> and <c>:authority</c>), and the
/// tunnel's own fields (docs/gate-transport.md). <see cref="Malformed"/> says why a request is not
/// one (RFC 9113 §8.1.1, §8.2, §8.3): it is answered 400.
/// </summary>
internal sealed record TunnelRequest
{
    public string? Malformed { get; private init; }

    public string Method { get; private init; } = string.Empty;

    /// <summary><c>:protocol</c>; null for a request without it (not an extended CONNECT).</summary>
    public string? Protocol { get; private init; }

    public string Authority { get; private init; } = string.Empty;

    /// <summary><see cref="TunnelProtocol.ConnectionIdHeader"/>, if sent.</summary>
    public string? ConnectionId { get; private init; }

    /// <summary><see cref="TunnelProtocol.OriginHeader"/>, if sent.</summary>
    public string? Origin { get; private init; }

    /// <summary><see cref="TunnelProtocol.AgentChainHeader"/>, if sent.</summary>
    public string? AgentChain { get; private init; }

    public bool IsExtendedConnect => Method == "CONNECT" && Protocol is not null;

    public static TunnelRequest Parse(IReadOnlyList<(string Name, string Value)> fields)
    {
        string? method = null, protocol = null, scheme = null, path = null, authority = null;
        string? connectionId = null, origin = null, agentChain = null;
        var regular = false;
        foreach (var (name, value) in fields)
        {
            if (name.Length == 0 || name.Any(c => c is >= 'A' and <= 'Z'))
            {
                return Bad($"the field name '{name}' is empty or not lowercase");
            }

            if (name[0] == ':')
            {
                if (regular)
                {
                    return Bad($"the pseudo-header {name} follows a regular field");
                }

                var first = name switch
                {
                    ":method" => Set(ref method, value),
                    ":protocol" => Set(ref protocol, value),
                    ":scheme" => Set(ref scheme, value),
                    ":path" => Set(ref path, value),
                    ":authority" => Set(ref authority, value),
                    _ => (bool?)null,
                };
                if (first is null)
                {
                    return Bad($"the pseudo-header {name} is not one of a request");
                }

                if (first == false)
                {
                    return Bad($"the pseudo-header {name} appears twice");
                }

                continue;
            }

            regular = true;
            switch (name)
            {
                case "connection" or "keep-alive" or "proxy-connection" or "transfer-encoding" or "upgrade":
                    return Bad($"the connection-specific field {name} is not allowed in HTTP/2");
                case "te" when value != "trailers":
                    return Bad("te is allowed only as 'trailers'");
                case TunnelProtocol.ConnectionIdHeader:
                    connectionId = value;
                    break;
                case TunnelProtocol.OriginHeader:
                    origin = value;
                    break;
                case TunnelProtocol.AgentChainHeader:
                    agentChain = value;
                    break;
                default:
                    break;
            }
        }

        if (method is null)
        {
            return Bad("the request has no :method");
        }

        if (protocol is not null && (method != "CONNECT" || scheme is null || path is null || authority is null))
        {
            return Bad("an extended CONNECT needs :method CONNECT, :scheme, :path and :authority");
        }

        return new TunnelRequest
        {
            Method = method,
            Protocol = protocol,
            Authority = authority ?? string.Empty,
            ConnectionId = connectionId,
            Origin = origin,
            AgentChain = agentChain,
        };
    }

    private static TunnelRequest Bad(string why) => new() { Malformed = why };

    // False when already set.
    private static bool Set(ref string? field, string value)
    {
        if (field is not null)
        {
            return false;
        }

        field = value;
        return true;
    }
}
