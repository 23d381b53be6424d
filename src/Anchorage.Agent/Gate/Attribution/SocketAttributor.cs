using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Hosting;

namespace Anchorage.Agent.Gate.Attribution;

/// <summary>
/// Attribution of gate connections: a caller (unix or loopback TCP outbound listener) by the
/// agent's <see cref="ConnectionAttributor"/> (the eBPF record made at <c>connect()</c>, or the
/// user-space fallback with its checks: docs/agent.md, "Connect-time attribution"); an inbound
/// forward address's listener through <see cref="SocketOwnerIndex"/>.
/// </summary>
internal sealed class SocketAttributor(ConnectionAttributor attribution) : IConnectionAttributor
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
            ? attribution.AttributeUnix(client)
            : attribution.AttributeTcp((IPEndPoint)client.LocalEndPoint!, (IPEndPoint)client.RemoteEndPoint!));
    }

    public string? ListenerChange(PeerProcess attested, IPEndPoint forward) => SocketOwnerIndex.ListenerChange(attested, forward);
}
