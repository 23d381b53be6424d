namespace Anchorage.Server.Backup;

/// <summary>A backup or restore refused or failed; the message is one line naming what and where.</summary>
public sealed class BackupException : Exception
{
    public BackupException()
    {
    }

    public BackupException(string message)
        : base(message)
    {
    }

    public BackupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
