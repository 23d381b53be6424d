using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Agent hosting events, ids 5500-5599.</summary>
internal static partial class AgentHostingLog
{
    [LoggerMessage(EventId = 5500, EventName = "AgentStarted", Level = LogLevel.Information,
        Message = "agent for trust domain {TrustDomain} started: workload api socket {WorkloadSocket}, workload api tcp {WorkloadTcp}, health on {Health}, admin socket {AdminSocket}")]
    public static partial void Started(ILogger logger, string trustDomain, string workloadSocket, string workloadTcp, System.Net.IPEndPoint health, string adminSocket);

    [LoggerMessage(EventId = 5501, EventName = "AgentStaleSocketRemoved", Level = LogLevel.Warning, Message = "removed a stale socket at {Path}")]
    public static partial void StaleSocketRemoved(ILogger logger, string path);

    [LoggerMessage(EventId = 5502, EventName = "AgentAdminRefused", Level = LogLevel.Warning, Message = "admin request refused: caller uid {Uid} (pid {Pid}) is not an admin")]
    public static partial void AdminRefused(ILogger logger, uint uid, int pid);

    [LoggerMessage(EventId = 5503, EventName = "AgentAdminPeerUnavailable", Level = LogLevel.Error, Message = "cannot read the peer credentials of an admin socket connection; closing it")]
    public static partial void AdminPeerUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5504, EventName = "AgentReadinessCheckFailed", Level = LogLevel.Error, Message = "readiness check failed")]
    public static partial void ReadinessCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5505, EventName = "AgentStopping", Level = LogLevel.Information, Message = "agent stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 5510, EventName = "WorkloadUnixPeerNotFound", Level = LogLevel.Debug, Message = "workload api unix socket connection has no attestable peer: {Reason}")]
    public static partial void UnixPeerNotFound(ILogger logger, string reason);

    [LoggerMessage(EventId = 5513, EventName = "WorkloadTcpPeerNotFound", Level = LogLevel.Debug, Message = "workload api tcp connection from {Client} has no attestable peer: {Reason}")]
    public static partial void TcpPeerNotFound(ILogger logger, System.Net.IPEndPoint client, string reason);

    [LoggerMessage(EventId = 5511, EventName = "WorkloadAttestationFailed", Level = LogLevel.Debug, Message = "attestation of process {Pid} failed: {Reason}")]
    public static partial void AttestationFailed(ILogger logger, int pid, string reason);

    [LoggerMessage(EventId = 5512, EventName = "WorkloadNoPeer", Level = LogLevel.Debug, Message = "workload api call without an attested peer: {Reason}")]
    public static partial void NoPeer(ILogger logger, string reason);

    [LoggerMessage(EventId = 5514, EventName = "WorkloadConnectionRefused", Level = LogLevel.Debug, Message = "workload api connection from uid {Uid} (pid {Pid}) closed: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, uint uid, int pid, string reason);

    [LoggerMessage(EventId = 5515, EventName = "WorkloadCallRateLimited", Level = LogLevel.Debug, Message = "workload api call from uid {Uid} refused: more than {PerSecond} calls per second")]
    public static partial void CallRateLimited(ILogger logger, uint uid, int perSecond);

    [LoggerMessage(EventId = 5516, EventName = "WorkloadAttestationUnavailable", Level = LogLevel.Warning, Message = "attestation of process {Pid} could not run: {Reason}; the caller is told to retry")]
    public static partial void AttestationUnavailable(ILogger logger, int pid, string reason);
    [LoggerMessage(EventId = 5520, EventName = "AttributionKernel", Level = LogLevel.Information, Message = "connect-time attribution: eBPF (programs attached to {Cgroups}); connections without a record: {Unrecorded}")]
    public static partial void AttributionKernel(ILogger logger, string cgroups, string unrecorded);

    [LoggerMessage(EventId = 5521, EventName = "AttributionFallback", Level = LogLevel.Warning, Message = "connect-time attribution: fallback (user space) because {Reason}")]
    public static partial void AttributionFallback(ILogger logger, string reason);

    [LoggerMessage(EventId = 5522, EventName = "MemoryTrimmed", Level = LogLevel.Information, Message = "workload api connections fell from {Peak} to {Open}: memory returned to the system (managed heap {BeforeMb} MB -> {AfterMb} MB)")]
    public static partial void MemoryTrimmed(ILogger logger, int peak, int open, long beforeMb, long afterMb);
}
