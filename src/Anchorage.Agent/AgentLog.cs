using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent;

/// <summary>The composition root's log events.</summary>
internal static partial class AgentLog
{
    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "the server is not reachable yet ({Code}: {Detail}); retrying in {Delay}")]
    public static partial void ServerUnreachableAtStart(ILogger logger, StatusCode code, string detail, TimeSpan delay);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Error, Message = "the server's certificate does not verify as spiffe://<trust domain>/anchorage/server with the trust bundle (trustBundleFile, or bundle.json in dataDir once attested); is the bundle current? retrying in {Delay}")]
    public static partial void ServerNotTrusted(ILogger logger, TimeSpan delay);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Information, Message = "file descriptor soft limit raised from {Before} to the hard limit {After}")]
    public static partial void DescriptorLimitRaised(ILogger logger, ulong before, ulong after);
}
