namespace Anchorage.Server.Attestation;

/// <summary>
/// An agent is refused attestation or renewal. The message is one short lowercase line safe to
/// return to the agent: it never holds a join token's secret.
/// </summary>
public sealed class AttestationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AttestationException(AttestationFailure failure, string message)
        : base(message)
    {
        Failure = failure;
    }

    /// <summary>Why the agent was refused.</summary>
    public AttestationFailure Failure { get; }
}
