using Anchorage.Foundation.Audit;

namespace Anchorage.Agent.Gate.Provenance;

/// <summary>
/// The origin of an inbound stream, as its verified statement told: the process on the sending
/// side, the agent that signed for it and the sending gate's connection id.
/// </summary>
internal sealed record VerifiedOrigin(string AgentId, string SenderConnectionId, AuditProcess Process)
{
    /// <summary>The statement's claims as a verified origin.</summary>
    public static VerifiedOrigin From(OriginClaims claims) =>
        new(claims.AgentId, claims.ConnectionId, new AuditProcess(claims.Pid, claims.Exe, claims.Sha256, claims.Uid, claims.Gid, claims.StartTime));
}
