using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel;
using Anchorage.Foundation.Config;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>
/// A connection the kernel steered (sk_lookup) from a service port to the gate's steering
/// listener. The accepted socket's local address (getsockname) is the address and port the client dialed, so
/// the steered entry is found by that port; from there it is an inbound connection like any other
/// (mTLS terminated with the service's SVID, decided, forwarded), except that the gate's connection
/// to the service goes out through <see cref="InboundSteering.ConnectAsync"/>, which the program
/// lets through to the service's own socket.
/// </summary>
internal sealed class SteeringPipeline(PipelineParts parts, InboundPipeline inbound, InboundSteering steering, IReadOnlyList<GateTransparentInbound> ports)
{
    /// <summary>The name of the steering listener in logs and in the audit of connections that were not steered.</summary>
    public const string ListenerName = "transparent-inbound";

    public Task HandleAsync(Socket client, CancellationToken stop)
    {
        // The kernel's view: Socket.LocalEndPoint would repeat the steering listener's address.
        IPEndPoint local;
        try
        {
            local = LinuxNative.LocalAddress(client.SafeHandle);
        }
        catch (IOException e)
        {
            parts.Audit.Deny(GateAudit.Pending(parts.NextId(), InboundPipeline.Direction, ListenerName, client.RemoteEndPoint?.ToString()), GateReasons.NotRedirected, e.Message);
            return Task.CompletedTask;
        }

        var entry = ports.FirstOrDefault(p => p.Port == local.Port);
        if (entry is null)
        {
            // Someone dialed the steering listener itself: there is no service behind it.
            parts.Audit.Deny(GateAudit.Pending(parts.NextId(), InboundPipeline.Direction, ListenerName, client.RemoteEndPoint?.ToString()), GateReasons.NotRedirected, $"no steered service port {local.Port}");
            return Task.CompletedTask;
        }

        var options = new GateInboundOptions
        {
            Name = entry.Name,
            Listen = new HostPort(local.Address.ToString(), local.Port),
            Forward = entry.Forward,
        };
        return inbound.HandleAsync(client, options, entry.Port, stop, steering.ConnectAsync);
    }
}
