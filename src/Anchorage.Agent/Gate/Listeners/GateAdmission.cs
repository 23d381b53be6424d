using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;

namespace Anchorage.Agent.Gate.Listeners;

/// <summary>
/// The gate's connection caps (<c>gate.maxConnections</c>, <c>gate.maxConnectionsPerUid</c>),
/// checked by every listener as it accepts, before anything else is spent on the connection: a
/// connection over a cap is audited (<see cref="GateReasons.ConnectionLimit"/>) and closed at once.
/// </summary>
/// <remarks>
/// The uid is what the kernel tells for free or nearly: <c>SO_PEERCRED</c> for a unix listener,
/// the socket table's uid column for a loopback TCP one (read only while the total cap is not
/// reached). Inbound callers are remote and have no local uid: they count against the total
/// only. The deny records go through the gate's audit sink, where the agent's
/// <see cref="DenySummarizer"/> folds a flood from one caller into a <c>deny-summary</c> record.
/// </remarks>
internal sealed class GateAdmission(ConnectionLimiter limiter, GateAudit audit, Func<string> nextId)
{
    /// <summary>Open connections the caps count, all listeners.</summary>
    public int Open => limiter.Open;

    /// <summary>
    /// A slot for <paramref name="client"/>, accepted by <paramref name="listener"/>; null when a cap
    /// is reached (the refusal is audited; the caller closes the socket).
    /// </summary>
    public IDisposable? TryAdmit(Socket client, string listener, string direction)
    {
        var inbound = direction == Pipelines.InboundPipeline.Direction;
        var caller = inbound ? null : LocalCaller(client);
        var lease = limiter.TryAcquire(inbound ? null : caller?.Uid ?? WorkloadPeerFeature.UnknownUid, out var refusal);
        if (lease is not null)
        {
            return lease;
        }

        var record = GateAudit.Pending(nextId(), direction, listener, Remote(client)) with
        {
            Process = caller is { } known ? new AuditProcess(known.Pid, null, null, known.Uid, known.Gid, 0) : null,
        };
        audit.Deny(record, GateReasons.ConnectionLimit, refusal);
        return null;
    }

    // Who connected, as far as the kernel says without a scan: null when it cannot tell.
    private (int Pid, uint Uid, uint Gid)? LocalCaller(Socket client)
    {
        try
        {
            if (client.AddressFamily == AddressFamily.Unix)
            {
                var (pid, uid, gid) = PeerCredentialsReader.ReadCredentials(client);
                return (pid, uid, gid);
            }

            // The table is read only while a slot may be free: a flood past the total cap costs no read.
            if (limiter.Open >= limiter.MaxConnections)
            {
                return null;
            }

            return TcpPeerLocator.SocketUid((IPEndPoint)client.LocalEndPoint!, (IPEndPoint)client.RemoteEndPoint!) is { } socketUid
                ? (0, socketUid, 0)
                : null;
        }
        catch (Exception e) when (e is WorkloadAttestationException or SocketException or ObjectDisposedException or IOException or UnauthorizedAccessException)
        {
            // Out of descriptors, or the caller is gone: counted as an unknown uid.
            return null;
        }
    }

    private static string? Remote(Socket client)
    {
        try
        {
            return client.AddressFamily == AddressFamily.Unix ? null : client.RemoteEndPoint?.ToString();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
