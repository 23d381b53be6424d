namespace Anchorage.Server.Registration;

/// <summary>The outcome of one entry of a batch: the stored entry, or why it was refused.</summary>
/// <param name="Entry">The entry as stored; null when refused.</param>
/// <param name="Error">
/// An <see cref="EntryValidationException"/> or <see cref="EntryConflictException"/>; null on success.
/// </param>
public sealed record EntryBatchResult(RegistrationEntry? Entry, Exception? Error)
{
    /// <summary>True when the entry was stored.</summary>
    public bool Succeeded => Error is null;
}
