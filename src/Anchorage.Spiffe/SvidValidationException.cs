namespace Anchorage.Spiffe;

/// <summary>
/// An X.509-SVID or JWT-SVID breaks a rule of its standard or does not verify against the
/// bundle of its trust domain. The message is one short lowercase line naming the rule.
/// </summary>
public sealed class SvidValidationException : SpiffeException
{
    public SvidValidationException(string message)
        : base(message)
    {
    }

    public SvidValidationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
