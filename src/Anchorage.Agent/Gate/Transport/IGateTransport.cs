using System.Net.Sockets;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Gate.Transport;

/// <summary>
/// How the gate carries a connection to and from another gate or workload: today direct mTLS
/// (one TLS connection per application connection); a tunnel transport can carry many.
/// Peers are verified with the bundle of their own trust domain among <c>bundles</c>.
/// </summary>
internal interface IGateTransport
{
    /// <summary>
    /// Outbound: for the gate's connection <paramref name="connectionId"/> of <paramref name="caller"/>, reaches
    /// <paramref name="host"/>:<paramref name="port"/> presenting <paramref name="svid"/>; the peer must satisfy
    /// <paramref name="authorizer"/>. A tunnel tells the peer the caller in a signed origin statement.
    /// </summary>
    /// <returns>The channel, or <see cref="GateReasons.Unreachable"/> / <see cref="GateReasons.PeerVerification"/>.</returns>
    Task<TransportResult> DialAsync(
        string connectionId, string host, int port, X509Svid svid, BundleSet bundles, Authorizer authorizer, AuditProcess caller, CancellationToken cancellationToken);

    /// <summary>Inbound: authenticates the accepted <paramref name="client"/> presenting <paramref name="svid"/>.</summary>
    /// <returns>The channel, or <see cref="GateReasons.PeerVerification"/>.</returns>
    Task<TransportResult> AcceptAsync(Socket client, X509Svid svid, BundleSet bundles, CancellationToken cancellationToken);
}
