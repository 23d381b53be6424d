namespace Anchorage.Server.DataStore;

/// <summary>
/// A conditional update was made from a revision that is no longer the stored one: someone changed
/// the record since the caller read it. Nothing was written; read the record again and retry.
/// </summary>
public sealed class DataStoreStaleRevisionException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One lowercase line naming the record and both revisions.</param>
    /// <param name="storedRevision">The revision stored now.</param>
    public DataStoreStaleRevisionException(string message, long storedRevision)
        : base(message)
    {
        StoredRevision = storedRevision;
    }

    /// <summary>The revision stored when the update was refused.</summary>
    public long StoredRevision { get; }
}
