using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>Hosting events, ids 1000-1099.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information,
        Message = "server {ServerId} for trust domain {TrustDomain} started: agent API on {AgentApi}, health on {Health}, admin socket {AdminSocket}")]
    public static partial void Started(ILogger logger, string serverId, string trustDomain, System.Net.IPEndPoint agentApi, System.Net.IPEndPoint health, string adminSocket);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "removed a stale admin socket at {Path}")]
    public static partial void StaleSocketRemoved(ILogger logger, string path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "admin request refused: caller uid {Uid} (pid {Pid}) is not an admin")]
    public static partial void AdminRefused(ILogger logger, uint uid, int pid);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "cannot read the peer credentials of an admin socket connection; closing it")]
    public static partial void PeerCredentialsUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "readiness check failed")]
    public static partial void ReadinessCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "server {ServerId} stopping")]
    public static partial void Stopping(ILogger logger, string serverId);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "bundle endpoint ({Profile}) on {Endpoint}")]
    public static partial void BundleEndpointStarted(ILogger logger, string profile, System.Net.IPEndPoint endpoint);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "bundle endpoint certificate reloaded from {File}: {Subject}, valid until {NotAfter:O}")]
    public static partial void ServingCertificateReloaded(ILogger logger, string file, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Error, Message = "bundle endpoint certificate not reloaded from {File}: {Reason}; still serving {Subject}")]
    public static partial void ServingCertificateReloadFailed(ILogger logger, string file, string reason, string subject);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "bundle endpoint certificate files not read: {Reason}; still serving the previous certificate")]
    public static partial void ServingCertificateUnreadable(ILogger logger, string reason);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "agent api: connection from {Peer} closed: it already holds {Limit} connections")]
    public static partial void PeerConnectionRefused(ILogger logger, string peer, int limit);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Error, Message = "bundle endpoint: the bundle cannot be read; answered 503")]
    public static partial void BundleUnavailable(ILogger logger, Exception exception);
}
