using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.AspNetCore.Internal;

/// <summary>Log messages of Anchorage.AspNetCore; event ids 9000-9099. Never logs keys or tokens.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "spiffe mtls: refused client {PeerId}: {Reason}")]
    public static partial void ClientRefused(ILogger logger, SpiffeId peerId, string reason);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "spiffe mtls: x509-svid rotated to serial {Serial}, new connections use it")]
    public static partial void ClientSvidRotated(ILogger logger, string serial);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "jwt-svid authentication failed: {Reason}")]
    public static partial void JwtSvidRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "spiffe x509 authentication failed: {Reason}")]
    public static partial void X509Rejected(ILogger logger, string reason);
}
