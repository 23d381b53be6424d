using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Gate.Internal;

namespace Anchorage.Agent.Gate.Attribution;

/// <summary>
/// Attribution from the sockets themselves: a unix socket's peer by <c>SO_PEERCRED</c> and a
/// pidfd; a loopback TCP socket's owner, and an inbound forward address's listener, through
/// <see cref="SocketOwnerIndex"/>.
/// </summary>
internal sealed class SocketAttributor : IConnectionAttributor
{
    private readonly SocketOwnerIndex _owners = new();

    public ValueTask<PeerProcess> FindAsync(AttributionRequest request, CancellationToken cancellationToken)
    {
        if (request.Forward is { } forward)
        {
            return ValueTask.FromResult(_owners.LocateListener(forward));
        }

        var client = request.Client;
        return ValueTask.FromResult(client.AddressFamily == AddressFamily.Unix
            ? PeerCredentialsReader.Read(client)
            : _owners.Locate((IPEndPoint)client.LocalEndPoint!, (IPEndPoint)client.RemoteEndPoint!));
    }
}
