using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Kernel;
using Anchorage.Foundation.Config;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>
/// A connection the kernel redirected to the transparent listener: its original destination and
/// the destination entry it matched are taken from the redirect programs by the client's address
/// and port, then it is an outbound connection to that destination like any other (attributed,
/// attested, decided, dialed with the caller's own SVID).
/// </summary>
internal sealed class TransparentPipeline(PipelineParts parts, OutboundPipeline outbound, TransparentRedirect redirect, HostPort listen)
{
    /// <summary>The name of the transparent listener in logs and in the audit of unredirected connections.</summary>
    public const string ListenerName = "transparent";

    public Task HandleAsync(Socket client, CancellationToken stop)
    {
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        if (!redirect.TryTakeOriginal(remote, out var original, out var destination))
        {
            // Someone dialed the listener itself: there is no destination to take it to.
            parts.Audit.Deny(GateAudit.Pending(parts.NextId(), OutboundPipeline.Direction, ListenerName, null), GateReasons.NotRedirected, $"no original destination recorded for {remote}");
            return Task.CompletedTask;
        }

        var options = new GateOutboundOptions
        {
            Name = destination.Name,
            Listen = GateListenAddress.TcpAt(listen),
            Target = new HostPort(original.Address.ToString(), original.Port),
            Peer = destination.Peer,
            PeerTrustDomain = destination.PeerTrustDomain,
        };
        return outbound.HandleAsync(client, options, stop);
    }
}
