namespace Anchorage.Server.Registration;

/// <summary>
/// A create or update would duplicate a stored entry (same SPIFFE ID, parent ID and selector set),
/// or reuse a stored entry's id.
/// </summary>
public sealed class EntryConflictException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One lowercase line saying what conflicts.</param>
    /// <param name="existingEntryId">The stored entry in the way, when known.</param>
    /// <param name="innerException">The datastore's conflict.</param>
    public EntryConflictException(string message, string? existingEntryId, Exception? innerException)
        : base(message, innerException)
    {
        ExistingEntryId = existingEntryId;
    }

    /// <summary>The id of the stored entry in the way; null when it could not be found (it changed meanwhile).</summary>
    public string? ExistingEntryId { get; }
}
