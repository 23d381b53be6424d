namespace Anchorage.Spiffe;

/// <summary>
/// Base of the domain failures the core library reports: an SVID that does not verify, a
/// bundle that is missing. Malformed text is a <see cref="FormatException"/>; caller bugs are
/// <see cref="ArgumentException"/>s.
/// </summary>
public abstract class SpiffeException : Exception
{
    protected SpiffeException(string message)
        : base(message)
    {
    }

    protected SpiffeException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
