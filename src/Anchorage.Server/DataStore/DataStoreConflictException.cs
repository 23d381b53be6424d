namespace Anchorage.Server.DataStore;

/// <summary>A write conflicts with stored data (a duplicate, or a lost race).</summary>
public sealed class DataStoreConflictException : Exception
{
    public DataStoreConflictException(string message)
        : base(message)
    {
    }

    public DataStoreConflictException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
