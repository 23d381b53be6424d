using System.Net;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.WebConsole.Internal;

/// <summary>Web console events, ids 1100-1199. Tokens and session secrets are never logged.</summary>
internal static partial class ConsoleLog
{
    public const string Category = "Anchorage.Server.WebConsole";

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "web console listening on {Scheme}://{Endpoint}")]
    public static partial void Started(ILogger logger, string scheme, IPEndPoint endpoint);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "web console login token issued; it expires at {ExpiresAt:O}")]
    public static partial void LoginTokenIssued(ILogger logger, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "web console session started from {Remote}; it expires at {ExpiresAt:O}")]
    public static partial void SessionStarted(ILogger logger, string remote, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "web console login refused from {Remote}: the token is unknown, used or expired")]
    public static partial void LoginRefused(ILogger logger, string remote);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "web console request {Path} failed")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string path);
}
