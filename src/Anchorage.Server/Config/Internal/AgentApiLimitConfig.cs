using Anchorage.Foundation.Config;
using Anchorage.Server.Api;

namespace Anchorage.Server.Config.Internal;

/// <summary>Reads <c>agentApiLimits: { maxMessageBytes, maxConnectionsPerPeer, requestBodyDeadline, maxX509SvidBatch, maxConcurrentSigning }</c>.</summary>
internal static class AgentApiLimitConfig
{
    public static AgentApiLimitOptions Read(ConfigMap section)
    {
        var defaults = new AgentApiLimitOptions();
        var messageBytes = section.Get("maxMessageBytes")?.Count(AgentApiLimitOptions.MinMessageBytes, AgentApiLimitOptions.MaxMessageBytesLimit);
        var perPeer = section.Get("maxConnectionsPerPeer")?.Count(1, AgentApiLimitOptions.MaxCount);
        var batch = section.Get("maxX509SvidBatch")?.Count(1, ApiOptions.MaxX509SvidBatchLimit);
        var signing = section.Get("maxConcurrentSigning")?.Count(1, AgentApiLimitOptions.MaxCount);
        var deadlineNode = section.Get("requestBodyDeadline");
        var deadline = deadlineNode?.Duration();
        section.RejectUnknownKeys();
        if (deadline is { } value && (value < AgentApiLimitOptions.MinRequestBodyDeadline || value > AgentApiLimitOptions.MaxRequestBodyDeadline))
        {
            deadlineNode!.Error(
                $"must be from {Durations.Format(AgentApiLimitOptions.MinRequestBodyDeadline)} to {Durations.Format(AgentApiLimitOptions.MaxRequestBodyDeadline)}");
            deadline = null;
        }

        return new AgentApiLimitOptions
        {
            MaxMessageBytes = messageBytes ?? defaults.MaxMessageBytes,
            MaxConnectionsPerPeer = perPeer ?? defaults.MaxConnectionsPerPeer,
            RequestBodyDeadline = deadline ?? defaults.RequestBodyDeadline,
            MaxX509SvidBatch = batch ?? defaults.MaxX509SvidBatch,
            MaxConcurrentSigning = signing ?? defaults.MaxConcurrentSigning,
        };
    }
}
