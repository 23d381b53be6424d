using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Attribution;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Policy;
using Anchorage.Spiffe.Authorization;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>
/// An outbound connection: the caller attributed and attested, the policy decided (before dialing
/// for a configured peer, so a denied caller never reaches the target; right after the handshake
/// for a peer trust domain, before any application byte passes), the target dialed with the
/// caller's own SVID, then served.
/// </summary>
internal sealed class OutboundPipeline(PipelineParts parts)
{
    public const string Direction = "outbound";

    public async Task HandleAsync(Socket client, GateOutboundOptions options, CancellationToken stop)
    {
        var id = parts.NextId();
        var started = parts.Setup.TimeProvider.GetTimestamp();
        if (client.AddressFamily != AddressFamily.Unix)
        {
            client.NoDelay = true;
        }

        var pending = GateAudit.Pending(id, Direction, options.Name, options.Target.ToString()) with
        {
            PeerSpiffeId = options.Peer?.ToString(),
            PeerTrustDomain = options.Peer?.TrustDomain.Name ?? options.PeerTrustDomain?.Name,
        };

        // 1. Who is calling: the process itself, pinned by a pidfd.
        using var process = await parts.Attribution.AttributeAsync(AttributionRequest.Caller(client), pending, stop).ConfigureAwait(false);
        if (process is null)
        {
            return;
        }

        var svid = process.Svid;
        var deny = process.Pending;

        // 2. Exact peer: decide before dialing, so a denied caller never reaches the target.
        PolicyDecision? decision = null;
        if (options.Peer is { } expected)
        {
            decision = parts.Setup.Policy.Current.Decide(new PolicyRequest(svid.Id, process.Local.SelectorSet, expected, options.Target.Port));
            if (!decision.Allowed)
            {
                parts.Audit.Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Policy, null);
                return;
            }
        }

        // 3. Dial with the caller's own SVID; the peer verified with the bundle of its trust domain.
        var authorizer = options.Peer is { } exact ? Authorizer.Exact(exact) : Authorizer.MemberOf(options.PeerTrustDomain!.Value);
        Transport.TransportResult dialed;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
        {
            // The set-up deadline must not outlive the set-up: a cancelled connect or handshake token
            // can still tear down the socket it was given.
            timeout.CancelAfter(parts.Setup.HandshakeTimeout);
            var transport = options.Tunnels ?? parts.TunnelsByDefault ? parts.TunnelTransport : parts.Transport;
            dialed = await transport.DialAsync(
                id, options.Target.Host, options.Target.Port, svid, process.Identity.Bundles, authorizer, process.Local.Audit, timeout.Token).ConfigureAwait(false);
        }

        if (dialed.Channel is not { } channel)
        {
            parts.Audit.Deny(deny with { Rule = decision?.Rule, PolicyVersion = decision?.PolicyVersion }, dialed.Reason!, dialed.Detail);
            return;
        }

        await using (channel.ConfigureAwait(false))
        {
            var peerId = channel.PeerId;
            deny = deny with { PeerSpiffeId = peerId.ToString(), PeerTrustDomain = peerId.TrustDomain.Name, BundleSequence = parts.BundleSequence(peerId.TrustDomain) };

            // Trust-domain peer: decided now that its ID is verified, before any byte passes.
            var request = new PolicyRequest(svid.Id, process.Local.SelectorSet, peerId, options.Target.Port);
            if (decision is null)
            {
                decision = parts.Setup.Policy.Current.Decide(request);
                if (!decision.Allowed)
                {
                    parts.Audit.Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Policy, null);
                    return;
                }
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
                Remote = options.Target.ToString(),
                StartTimestamp = started,
            };
            await parts.Server.ServeAsync(connection, deny, decision, new SocketEnd(client), channel).ConfigureAwait(false);
        }
    }
}
