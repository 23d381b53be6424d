namespace Anchorage.Server.Api;

/// <summary>Limits of the agent and admin APIs; the defaults are stated on each property.</summary>
public sealed record ApiOptions
{
    /// <summary>Default <see cref="SyncPageSize"/>: 1000 entries per message.</summary>
    public const int DefaultSyncPageSize = 1000;

    /// <summary>The largest page an agent may ask for: 5000 entries per message.</summary>
    public const int MaxSyncPageSize = 5000;

    /// <summary>
    /// How many signing operations (X.509-SVID batches, JWT-SVIDs, agent attestations and renewals,
    /// admin mints) run at once; further requests are refused with <c>Unavailable</c> and a
    /// <c>retry-after-ms</c> trailer instead of queueing. Default: twice the processor count.
    /// </summary>
    public int MaxConcurrentSigning { get; init; } = 2 * Environment.ProcessorCount;

    /// <summary>
    /// The least wait a busy refusal advises; each refusal adds up to the same again at random, so
    /// refused agents do not come back in step. Default 200 ms.
    /// </summary>
    public TimeSpan SigningRetryAfter { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Entries per <c>SyncEntries</c> message when the agent asks for 0. Default <see cref="DefaultSyncPageSize"/>.</summary>
    public int SyncPageSize { get; init; } = DefaultSyncPageSize;

    /// <summary>
    /// The largest agent API request message, in bytes. Default 2 MiB: a full batch of RSA-8192 CSRs
    /// fits; a larger message is refused (ResourceExhausted) before it is buffered.
    /// </summary>
    public int MaxAgentMessageBytes { get; init; } = 2 * 1024 * 1024;

    /// <summary>Default <see cref="MaxX509SvidBatch"/>: 50 CSRs per call.</summary>
    public const int DefaultMaxX509SvidBatch = 50;

    /// <summary>The highest <see cref="MaxX509SvidBatch"/> accepted.</summary>
    public const int MaxX509SvidBatchLimit = 500;

    /// <summary>
    /// The most X.509-SVIDs one <c>BatchNewX509Svid</c> call may ask for (each signature also takes its
    /// own admission slot). Default <see cref="DefaultMaxX509SvidBatch"/>, at most <see cref="MaxX509SvidBatchLimit"/>.
    /// </summary>
    public int MaxX509SvidBatch { get; init; } = DefaultMaxX509SvidBatch;

    /// <summary>Checks the limits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range; the message names it.</exception>
    public void Validate()
    {
        if (MaxConcurrentSigning < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentSigning), "maxConcurrentSigning must be at least 1");
        }

        if (SigningRetryAfter < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(SigningRetryAfter), "signingRetryAfter must be at least 1 ms");
        }

        if (SyncPageSize is < 1 or > MaxSyncPageSize)
        {
            throw new ArgumentOutOfRangeException(nameof(SyncPageSize), "syncPageSize must be between 1 and 5000");
        }

        if (MaxAgentMessageBytes < 64 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAgentMessageBytes), "maxAgentMessageBytes must be at least 65536");
        }

        if (MaxX509SvidBatch is < 1 or > MaxX509SvidBatchLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxX509SvidBatch), "maxX509SvidBatch must be between 1 and 500");
        }
    }
}
