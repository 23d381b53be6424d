using System.Net;
using System.Net.Sockets;

namespace Anchorage.Agent.Gate.Attribution;

/// <summary>
/// What the gate asks an <see cref="IConnectionAttributor"/> about: for an outbound connection,
/// the local process that opened the accepted <see cref="Client"/>; for an inbound one, the local
/// process listening on <see cref="Forward"/>, which the connection is for.
/// </summary>
internal sealed record AttributionRequest
{
    private AttributionRequest(Socket client, IPEndPoint? forward)
    {
        Client = client;
        Forward = forward;
    }

    /// <summary>The connection the gate accepted.</summary>
    public Socket Client { get; }

    /// <summary>Inbound: the address the connection is forwarded to; null outbound.</summary>
    public IPEndPoint? Forward { get; }

    /// <summary>Who opened <paramref name="client"/> (an outbound listener accepted it).</summary>
    public static AttributionRequest Caller(Socket client) => new(client, null);

    /// <summary>Who listens on <paramref name="forward"/> (an inbound listener accepted <paramref name="client"/> for it).</summary>
    public static AttributionRequest Listener(Socket client, IPEndPoint forward) => new(client, forward);
}
