namespace Anchorage.Server.Registration;

/// <summary>An update names an entry id that is not stored.</summary>
public sealed class EntryNotFoundException : Exception
{
    /// <summary>Creates the exception with the message <c>entry "&lt;id&gt;" not found</c>.</summary>
    public EntryNotFoundException(string entryId, Exception? innerException)
        : base($"entry \"{entryId}\" not found", innerException)
    {
        EntryId = entryId;
    }

    /// <summary>The id asked for.</summary>
    public string EntryId { get; }
}
