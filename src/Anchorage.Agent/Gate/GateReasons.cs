namespace Anchorage.Agent.Gate;

/// <summary>The values of <see cref="Anchorage.Foundation.Audit.AuditRecord.Reason"/> the gate writes.</summary>
public static class GateReasons
{
    /// <summary>The local process could not be attested, or holds no SVID.</summary>
    public const string Unattested = "unattested";

    /// <summary>The policy denied the connection.</summary>
    public const string Policy = "policy";

    /// <summary>The remote side's SVID did not verify, or is not the expected peer.</summary>
    public const string PeerVerification = "peer-verification";

    /// <summary>Outbound: the target could not be reached; inbound: nothing listens on the forward address.</summary>
    public const string Unreachable = "unreachable";

    /// <summary>The peer gate refused the tunnel stream (its policy or its local service); its own audit says why.</summary>
    public const string PeerRefused = "peer-refused";

    /// <summary>Inbound: no local process listens on the forward address.</summary>
    public const string NoListener = "no-listener";

    /// <summary>
    /// Inbound: after the forward address was dialed, the process listening there was no longer
    /// the attested one (it exited, exec'd, or another process took the port); nothing was forwarded.
    /// </summary>
    public const string ForwardOwnerChanged = "forward-owner-changed";

    /// <summary>
    /// The connection was over <c>gate.maxConnections</c> or <c>gate.maxConnectionsPerUid</c> when
    /// it was accepted, and closed at once.
    /// </summary>
    public const string ConnectionLimit = "connection-limit";

    /// <summary>A live connection closed because no byte passed either way for <c>gate.idleTimeout</c>.</summary>
    public const string IdleTimeout = "idle-timeout";

    /// <summary>Transparent: the connection reached the transparent listener without being redirected by the kernel (no original destination).</summary>
    public const string NotRedirected = "not-redirected";

    /// <summary>A live connection closed because the policy no longer allows it.</summary>
    public const string PolicyChanged = "policy-changed";

    /// <summary>A live connection closed because the bundle of the peer's trust domain is gone for the local process.</summary>
    public const string BundleRemoved = "bundle-removed";

    /// <summary>A live connection closed because the peer's chain no longer verifies (its authority was revoked).</summary>
    public const string AuthorityRevoked = "authority-revoked";

    /// <summary>A live connection closed because the local process lost its identity (entry removed).</summary>
    public const string IdentityRemoved = "identity-removed";

    /// <summary>
    /// Inbound tunnel: the sending agent's provenance hello did not verify, or a stream's origin
    /// statement was missing, unverifiable, bound to another tunnel, stale or replayed.
    /// </summary>
    public const string Provenance = "provenance";

    /// <summary>A live connection closed because the gate stopped.</summary>
    public const string GateStopped = "gate-stopped";
}
