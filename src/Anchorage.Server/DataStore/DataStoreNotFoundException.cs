namespace Anchorage.Server.DataStore;

/// <summary>An update or read names something that is not stored.</summary>
public sealed class DataStoreNotFoundException : Exception
{
    public DataStoreNotFoundException(string message)
        : base(message)
    {
    }

    public DataStoreNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
