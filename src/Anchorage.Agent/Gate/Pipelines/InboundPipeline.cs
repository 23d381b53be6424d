using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Attribution;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Agent.Gate.Transport;
using Anchorage.Policy;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>
/// An inbound connection: the local process listening on the forward address attributed and
/// attested, mTLS terminated with its SVID, the policy decided (From = the verified client,
/// To = the local process, Port = the listener's port), the forward address dialed and its
/// listener checked to still be the attested process (a rogue that bound the port in between gets
/// nothing), then served.
/// </summary>
internal sealed class InboundPipeline(PipelineParts parts)
{
    public const string Direction = "inbound";

    private static readonly IReadOnlySet<string> NoSelectors = FrozenSet<string>.Empty;

    /// <param name="client">The accepted connection.</param>
    /// <param name="options">The inbound entry.</param>
    /// <param name="listenPort">The port the client dialed (the policy's Port).</param>
    /// <param name="stop">The gate's stop.</param>
    /// <param name="dial">How the forward address is dialed; null: a plain TCP connect.</param>
    public async Task HandleAsync(
        Socket client, GateInboundOptions options, int listenPort, CancellationToken stop, Func<IPEndPoint, CancellationToken, Task<Socket>>? dial = null)
    {
        var id = parts.NextId();
        var started = parts.Setup.TimeProvider.GetTimestamp();
        client.NoDelay = true;
        var remote = client.RemoteEndPoint?.ToString();
        var pending = GateAudit.Pending(id, Direction, options.Name, remote);
        var forward = options.Forward.ToIPEndPoint();

        // 1. The local process the connection is for: the one listening on the forward address.
        using var process = await parts.Attribution.AttributeAsync(AttributionRequest.Listener(client, forward), pending, stop).ConfigureAwait(false);
        if (process is null)
        {
            return;
        }

        var svid = process.Svid;
        var deny = process.Pending;
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        GateChannel? channel = null;
        Socket? downstream = null;
        try
        {
            // 2. Terminate mTLS with that process's SVID; the client verified with the bundle of its own trust domain.
            timeout.CancelAfter(parts.Setup.HandshakeTimeout);
            var accepted = await parts.Transport.AcceptAsync(client, svid, process.Identity.Bundles, timeout.Token).ConfigureAwait(false);
            if (accepted.Channel is null)
            {
                parts.Audit.Deny(deny, accepted.Reason!, accepted.Detail);
                return;
            }

            channel = accepted.Channel;
            var peerId = channel.PeerId;
            deny = deny with { PeerSpiffeId = peerId.ToString(), PeerTrustDomain = peerId.TrustDomain.Name, BundleSequence = parts.BundleSequence(peerId.TrustDomain) };

            // 3. Policy: the verified client opens, the local process accepts.
            var request = new PolicyRequest(peerId, NoSelectors, svid.Id, listenPort);
            var decision = parts.Setup.Policy.Current.Decide(request);
            if (!decision.Allowed)
            {
                parts.Audit.Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Policy, null);
                return;
            }

            if (parts.Setup.BeforeForwardDial is { } seam)
            {
                await seam().ConfigureAwait(false);
            }

            try
            {
                downstream = await (dial ?? ConnectAsync)(forward, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                parts.Audit.Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Unreachable, e is SocketException s ? s.Message : "timed out");
                return;
            }

            // 4. The process attested in step 1 must still own the forward address now that the
            // connection sits in a listener's queue: one that took the port since gets no byte.
            if (parts.Attribution.ForwardOwnerChange(process, forward) is { } change)
            {
                parts.Audit.Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.ForwardOwnerChanged, change);
                return;
            }

            var connection = new GateConnection
            {
                Id = id,
                Direction = Direction,
                Listener = options.Name,
                Local = process.Take(),
                LocalId = svid.Id,
                PeerId = peerId,
                PeerChain = channel.PeerChain,
                HandshakeAt = channel.HandshakeAt,
                Request = request,
                Remote = remote ?? string.Empty,
                StartTimestamp = started,
            };

            // The set-up deadline must not outlive the set-up (see OutboundPipeline).
            timeout.Dispose();
            await parts.Server.ServeAsync(connection, deny, decision, new SocketEnd(downstream), channel).ConfigureAwait(false);
        }
        finally
        {
            timeout.Dispose();
            if (channel is not null)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }

            downstream?.Dispose();
        }
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint forward, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(forward, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
