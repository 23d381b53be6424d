namespace Anchorage.Server.DataStore;

/// <summary>The database cannot be reached or refused the operation for a transient reason.</summary>
public sealed class DataStoreUnavailableException : Exception
{
    public DataStoreUnavailableException(string message)
        : base(message)
    {
    }

    public DataStoreUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
