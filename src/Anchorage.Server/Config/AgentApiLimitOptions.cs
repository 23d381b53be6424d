using Anchorage.Server.Api;
using Anchorage.Server.Hosting;

namespace Anchorage.Server.Config;

/// <summary>
/// <c>agentApiLimits:</c> the bounds of the agent API listener, which accepts connections before they
/// authenticate. Every default is the one the API and host state (<see cref="ApiOptions"/>,
/// <see cref="ServerHostSetup"/>).
/// </summary>
public sealed record AgentApiLimitOptions
{
    /// <summary>The lowest <see cref="MaxMessageBytes"/> accepted: 64 KiB.</summary>
    public const int MinMessageBytes = 64 * 1024;

    /// <summary>The highest <see cref="MaxMessageBytes"/> accepted: 64 MiB.</summary>
    public const int MaxMessageBytesLimit = 64 * 1024 * 1024;

    /// <summary>The highest <see cref="MaxConnectionsPerPeer"/> and <see cref="MaxConcurrentSigning"/> accepted.</summary>
    public const int MaxCount = 65536;

    /// <summary>The shortest <see cref="RequestBodyDeadline"/> accepted: 1 s.</summary>
    public static readonly TimeSpan MinRequestBodyDeadline = TimeSpan.FromSeconds(1);

    /// <summary>The longest <see cref="RequestBodyDeadline"/> accepted: 10 min.</summary>
    public static readonly TimeSpan MaxRequestBodyDeadline = TimeSpan.FromMinutes(10);

    /// <summary><c>maxMessageBytes</c>: the largest request message; a larger one is refused before it is buffered. Default 2 MiB.</summary>
    public int MaxMessageBytes { get; init; } = new ApiOptions().MaxAgentMessageBytes;

    /// <summary><c>maxConnectionsPerPeer</c>: connections one peer address may hold open; more are closed before TLS. Default 32.</summary>
    public int MaxConnectionsPerPeer { get; init; } = ServerHostSetup.DefaultMaxAgentConnectionsPerPeer;

    /// <summary><c>requestBodyDeadline</c>: how long a request may take to send its body; a stalled sender is aborted then. Default 30s.</summary>
    public TimeSpan RequestBodyDeadline { get; init; } = ServerHostSetup.DefaultAgentRequestBodyDeadline;

    /// <summary><c>maxX509SvidBatch</c>: CSRs per <c>BatchNewX509Svid</c> call. Default 50, at most 500.</summary>
    public int MaxX509SvidBatch { get; init; } = ApiOptions.DefaultMaxX509SvidBatch;

    /// <summary><c>maxConcurrentSigning</c>: signatures in progress at once; more are refused with a retry hint. Default twice the processor count.</summary>
    public int MaxConcurrentSigning { get; init; } = new ApiOptions().MaxConcurrentSigning;

    /// <summary>The API limits these settings give.</summary>
    public ApiOptions ToApiOptions() => new()
    {
        MaxAgentMessageBytes = MaxMessageBytes,
        MaxX509SvidBatch = MaxX509SvidBatch,
        MaxConcurrentSigning = MaxConcurrentSigning,
    };
}
