using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Gives a burst's memory back once the burst is over. A thousand Workload API connections open at
/// once leave ~100 KiB each of per-connection objects that lived long enough to reach the GC's
/// oldest generation; when they close, the agent allocates too little for the GC to collect that
/// generation again, so the process kept ~270 MB resident for good (bench/workload-api.sh), of
/// which ~20 MB was live. When the connections open at once fell by at least
/// <see cref="BurstConnections"/> and to at most a quarter of their peak, the trimmer runs one
/// full, compacting collection that returns the freed memory to the system
/// (<see cref="GCCollectionMode.Aggressive"/>), then asks the C library to do the same
/// (<c>malloc_trim</c>), at most once per <see cref="MinimumInterval"/>.
/// </summary>
/// <remarks>
/// Measured rather than guessed: <c>ConserveMemory</c>, workstation non-concurrent GC and a smaller
/// gen0 budget left the figure at 268-319 MB (the note), because none of them makes the GC
/// run when nothing allocates; a heap hard limit low enough to matter killed the agent.
/// </remarks>
internal sealed partial class MemoryTrimmer(ConnectionLimiter connections, TimeProvider time, ILogger logger, Action? collect = null) : BackgroundService
{
    /// <summary>How often the connection counts are looked at.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>The least time between two trims (a full blocking collection costs tens of milliseconds).</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMinutes(1);

    /// <summary>How many connections must have closed since the peak for a trim.</summary>
    public const int BurstConnections = 256;

    private readonly Action _collect = collect ?? Trim;
    private long? _lastTrim;

    /// <summary>One look at the counts; true when it trimmed.</summary>
    public bool Check()
    {
        var peak = connections.TakePeak();
        var open = connections.Open;
        if (peak - open < BurstConnections || open * 4 > peak)
        {
            return false;
        }

        if (_lastTrim is { } last && time.GetElapsedTime(last) < MinimumInterval)
        {
            return false;
        }

        var before = GC.GetTotalMemory(forceFullCollection: false);
        _collect();
        _lastTrim = time.GetTimestamp();
        var after = GC.GetTotalMemory(forceFullCollection: false);
        AgentHostingLog.MemoryTrimmed(logger, peak, open, before / (1024 * 1024), after / (1024 * 1024));
        return true;
    }

    // The managed heap first, then the C heap: TLS and the socket layer allocate natively per
    // connection, and glibc keeps freed pages in its arenas until asked (malloc_trim(3)).
    private static void Trim()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _ = MallocTrim(0);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(CheckInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Check();
        }
    }
}
