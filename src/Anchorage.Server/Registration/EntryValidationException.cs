namespace Anchorage.Server.Registration;

/// <summary>
/// A registration entry (or an entry query) breaks one or more rules; <see cref="Problems"/> holds
/// every one, each naming its field (e.g. <c>selectors[1]: "unix:uid:abc": uid must be a non-negative integer</c>).
/// </summary>
public sealed class EntryValidationException : Exception
{
    /// <summary>An invalid entry; the message is <c>invalid registration entry: </c> and the problems joined with "; ".</summary>
    public EntryValidationException(IReadOnlyList<string> problems)
        : this("invalid registration entry", problems)
    {
    }

    /// <summary>Something invalid; the message is <paramref name="subject"/>, ": " and the problems joined with "; ".</summary>
    public EntryValidationException(string subject, IReadOnlyList<string> problems)
        : base(subject + ": " + string.Join("; ", problems ?? throw new ArgumentNullException(nameof(problems))))
    {
        if (problems.Count == 0)
        {
            throw new ArgumentException("at least one problem is required", nameof(problems));
        }

        Problems = problems;
    }

    /// <summary>Every problem found, in field order.</summary>
    public IReadOnlyList<string> Problems { get; }
}
