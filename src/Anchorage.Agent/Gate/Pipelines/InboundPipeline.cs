using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Attribution;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Gate.Provenance;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Agent.Gate.Transport;
using Anchorage.Agent.Gate.Transport.Tunnels;
using Anchorage.Policy;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>
/// An inbound connection: the local process listening on the forward address attributed and
/// attested, mTLS terminated with its SVID, the policy decided (From = the verified client,
/// To = the local process, Port = the listener's port), the forward address dialed and its
/// listener checked to still be the attested process (a rogue that bound the port in between gets
/// nothing), then served. A tunnel's streams each go through the same steps.
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
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        GateChannel? channel = null;
        try
        {
            // 2. Terminate mTLS with that process's SVID; the client verified with the bundle of its own trust domain.
            timeout.CancelAfter(parts.Setup.HandshakeTimeout);
            var accepted = await parts.Transport.AcceptAsync(client, svid, process.Identity.Bundles, timeout.Token).ConfigureAwait(false);
            if (accepted.Tunnel is { } tunnel)
            {
                // A tunnel: each of its streams is one connection, decided and audited on its own.
                timeout.Dispose();
                await parts.Tunnels.ServeAsync(
                    tunnel,
                    stream => HandleStreamAsync(stream, svid.Id, options, listenPort, dial, stop),
                    agentChain => AcceptProvenance(agentChain, tunnel, svid.Leaf, process),
                    stop).ConfigureAwait(false);
                return;
            }

            if (accepted.Channel is null)
            {
                parts.Audit.Deny(process.Pending, accepted.Reason!, accepted.Detail);
                return;
            }

            channel = accepted.Channel;
            await DecideAndServeAsync(id, started, remote, process, channel, options, listenPort, dial, timeout).ConfigureAwait(false);
        }
        finally
        {
            timeout.Dispose();
            if (channel is not null)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    // One stream of a tunnel: the local process attributed again (it may have changed since the
    // tunnel's handshake), then decided and served like a direct connection.
    private async Task HandleStreamAsync(Transport.Tunnels.TunnelInboundChannel stream, Anchorage.Spiffe.Ids.SpiffeId tunnelLocalId, GateInboundOptions options, int listenPort,
        Func<IPEndPoint, CancellationToken, Task<Socket>>? dial, CancellationToken stop)
    {
        var id = parts.NextId();
        var started = parts.Setup.TimeProvider.GetTimestamp();
        var client = stream.Tunnel.Socket;
        var remote = client.RemoteEndPoint?.ToString();
        var pending = GateAudit.Pending(id, Direction, options.Name, remote);
        using var process = await parts.Attribution.AttributeAsync(AttributionRequest.Listener(client, options.Forward.ToIPEndPoint()), pending, stop).ConfigureAwait(false);
        if (process is null)
        {
            return;
        }

        if (process.Svid.Id != tunnelLocalId)
        {
            parts.Audit.Deny(process.Pending, GateReasons.PeerVerification, $"the tunnel was opened for {tunnelLocalId}, the forward address is now served by {process.Svid.Id}");
            return;
        }

        // A tunnel that negotiated provenance: each stream's origin statement must verify.
        VerifiedOrigin? origin = null;
        if (stream.Provenance is { } provenance)
        {
            try
            {
                origin = provenance.Verify(stream.OriginStatement, stream.SenderConnectionId);
            }
            catch (ProvenanceException e)
            {
                var peerId = stream.PeerId;
                parts.Audit.Deny(
                    process.Pending with
                    {
                        PeerSpiffeId = peerId.ToString(),
                        PeerTrustDomain = peerId.TrustDomain.Name,
                        PeerConnectionId = stream.SenderConnectionId,
                        OriginAgent = provenance.AgentId.ToString(),
                    },
                    GateReasons.Provenance,
                    e.Message);
                return;
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(parts.Setup.HandshakeTimeout);
        await DecideAndServeAsync(id, started, remote, process, stream, options, listenPort, dial, timeout, origin).ConfigureAwait(false);
    }

    // A tunnel's provenance hello: the sending agent verified with the bundle of its trust domain
    // (the one the tunnel's client is of); a refusal is audited and closes the tunnel.
    private ProvenanceSession AcceptProvenance(IReadOnlyList<X509Certificate2> agentChain, TunnelConnection tunnel, X509Certificate2 localLeaf, AttributedProcess process)
    {
        try
        {
            return ProvenanceSession.Accept(agentChain, tunnel.PeerId, tunnel.PeerChain[0], localLeaf, process.Identity.Bundles, parts.Verifier, parts.Setup.TimeProvider);
        }
        catch (ProvenanceException e)
        {
            parts.Audit.Deny(
                process.Pending with
                {
                    PeerSpiffeId = tunnel.PeerId.ToString(),
                    PeerTrustDomain = tunnel.PeerId.TrustDomain.Name,
                },
                GateReasons.Provenance,
                "provenance hello: " + e.Message);
            throw;
        }
    }

    // 3. and on: the policy decided for the verified peer, the forward address dialed, the connection served.
    private async Task DecideAndServeAsync(
        string id, long started, string? remote, AttributedProcess process, GateChannel channel, GateInboundOptions options, int listenPort,
        Func<IPEndPoint, CancellationToken, Task<Socket>>? dial, CancellationTokenSource timeout, VerifiedOrigin? origin = null)
    {
        var svid = process.Svid;
        var forward = options.Forward.ToIPEndPoint();
        var peerId = channel.PeerId;
        var deny = process.Pending with
        {
            PeerSpiffeId = peerId.ToString(),
            PeerTrustDomain = peerId.TrustDomain.Name,
            BundleSequence = parts.BundleSequence(peerId.TrustDomain),
            PeerConnectionId = (channel as Transport.Tunnels.TunnelInboundChannel)?.SenderConnectionId,
            Origin = origin?.Process,
            OriginAgent = origin?.AgentId,
        };

        // 3. Policy: the verified client opens (with its verified origin, if the tunnel carries provenance), the local process accepts.
        var originSelectors = origin is null ? NoSelectors : OriginMatch.RequestSelectors(origin.Process.Sha256, origin.Process.Exe, origin.Process.Uid);
        var request = new PolicyRequest(peerId, originSelectors, svid.Id, listenPort);
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

        Socket downstream;
        try
        {
            downstream = await (dial ?? ConnectAsync)(forward, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            if (channel is Transport.Tunnels.TunnelInboundChannel tunnelStream)
            {
                tunnelStream.RefusalStatus = 502;
            }

            parts.Audit.Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Unreachable, e is SocketException s ? s.Message : "timed out");
            return;
        }

        using var dialed = downstream;

        // 4. The process attested in step 1 must still own the forward address now that the
        // connection sits in a listener's queue: one that took the port since gets no byte.
        if (parts.Attribution.ForwardOwnerChange(process, forward) is { } change)
        {
            if (channel is Transport.Tunnels.TunnelInboundChannel refusedStream)
            {
                refusedStream.RefusalStatus = 502;
            }

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
        await channel.OpenAsync().ConfigureAwait(false);
        await parts.Server.ServeAsync(connection, deny, decision, new SocketEnd(downstream), channel).ConfigureAwait(false);
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
