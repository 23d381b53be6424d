using Microsoft.Extensions.Logging;

namespace Anchorage.Cli.Internal;

/// <summary>What <see cref="DaemonRunner"/> itself logs (event ids 9900-9909).</summary>
internal static partial class DaemonLog
{
    /// <summary>
    /// The daemon stops on an exception nothing handled: the full exception goes to the log (type,
    /// message, stack; exception messages in Anchorage never carry key or token material), one line
    /// to stderr, and the process exits with <see cref="ExitCodes.Internal"/>.
    /// </summary>
    [LoggerMessage(EventId = 9900, Level = LogLevel.Critical, Message = "{Daemon} stopped on an unexpected error ({Where})")]
    public static partial void Unexpected(ILogger logger, string daemon, string where, Exception exception);
}
