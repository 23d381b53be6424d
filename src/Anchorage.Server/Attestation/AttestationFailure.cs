namespace Anchorage.Server.Attestation;

/// <summary>Why an agent was refused; the API layer maps each to a status.</summary>
public enum AttestationFailure
{
    /// <summary>The join token is malformed, unknown, already used, has a wrong secret, or has expired (deliberately one reason).</summary>
    InvalidJoinToken,

    /// <summary>The node is banned.</summary>
    Banned,

    /// <summary>No node record: never attested, or evicted.</summary>
    NotAttested,

    /// <summary>The presented agent SVID is not the one the server last issued.</summary>
    StaleSvid,

    /// <summary>The agent SVID on record has expired.</summary>
    Expired,
}
