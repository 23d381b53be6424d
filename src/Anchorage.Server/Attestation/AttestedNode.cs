using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Attestation;

/// <summary>
/// An agent that has attested: its SPIFFE ID, current SVID, the SVID a renewal signed that the agent
/// has not used yet, and standing.
/// </summary>
public sealed record AttestedNode
{
    /// <summary>The agent's SPIFFE ID.</summary>
    public required SpiffeId SpiffeId { get; init; }

    /// <summary>How it attested, e.g. <c>join_token</c>.</summary>
    public required string AttestationType { get; init; }

    /// <summary>
    /// Serial number (hex) of the agent's current SVID: the one it attested with, or the last renewed
    /// one it has used since.
    /// </summary>
    public required string CertSerial { get; init; }

    /// <summary>NotAfter of that SVID.</summary>
    public required DateTimeOffset CertNotAfter { get; init; }

    /// <summary>
    /// Serial number (hex) of the SVID the last renewal signed, until the agent first presents it
    /// (then it becomes <see cref="CertSerial"/>); null when there is none. Until then both SVIDs are
    /// accepted, so an agent that lost the renewal's answer keeps working with its previous SVID.
    /// Set together with <see cref="PendingCertNotAfter"/>.
    /// </summary>
    public string? PendingCertSerial { get; init; }

    /// <summary>NotAfter of the pending SVID; null when there is none.</summary>
    public DateTimeOffset? PendingCertNotAfter { get; init; }

    /// <summary>Node selectors (e.g. <c>join_token:&lt;id&gt;</c>) that node-alias entries match.</summary>
    public ImmutableArray<Selector> Selectors { get; init; } = [];

    /// <summary>A banned node cannot renew or re-attest.</summary>
    public bool Banned { get; init; }

    /// <summary>When the node first attested.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}
