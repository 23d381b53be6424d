using System.Runtime.InteropServices;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Keeps the agent's file descriptors below its soft <c>RLIMIT_NOFILE</c> with a reserve to spare,
/// whatever the connection caps say. The caps are counts the operator chose; the limit is what the
/// kernel enforces, and a process that reaches it fails in places it cannot handle (the runtime
/// could not start a thread-pool thread, and the agent died with OutOfMemoryException). A new
/// connection is refused while fewer than <see cref="Reserve"/> descriptors would be left.
/// </summary>
/// <remarks>
/// The open count is read from <c>/proc/self/fd</c> at most every <see cref="RefreshInterval"/>;
/// between two reads every admitted connection is charged <see cref="ChargePerConnection"/>
/// descriptors (a socket, a pidfd, a forwarded socket), so a burst cannot overshoot. The limit is
/// read on every call (one getrlimit): an operator's <c>prlimit --pid</c> is honoured at once. Read
/// with the count, a limit lowered within 100 ms of the last read went unseen while a connect
/// burst was admitted against the old one (a CI run: 450 of 454 descriptors open).
/// </remarks>
/// <param name="time">The clock of the refresh interval.</param>
/// <param name="countOpen">The open descriptors (default: this process's <c>/proc/self/fd</c>).</param>
/// <param name="readLimit">The soft limit (default: this process's <c>RLIMIT_NOFILE</c>).</param>
internal sealed partial class DescriptorBudget(TimeProvider time, Func<long>? countOpen = null, Func<long>? readLimit = null)
{
    /// <summary>How long one read of the open count is trusted.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Descriptors one admitted connection is assumed to take until the next read.</summary>
    public const int ChargePerConnection = 3;

    /// <summary>Why a connection was refused: a short lowercase line.</summary>
    public const string Exhausted = "the agent is close to its file descriptor limit";

    // getdents64 alone: a directory enumeration of .NET resolves every entry (profiled at ~4% of a
    // gate connection's agent CPU with 300 descriptors open).
    private readonly Func<long> _countOpen = countOpen ?? (() => Anchorage.Agent.Internal.SocketOwners.CountDescriptors());
    private readonly Func<long> _readLimit = readLimit ?? ReadLimit;
    private readonly Lock _lock = new();
    private long _open;
    private long _readAt;
    private bool _read;

    /// <summary>The descriptors kept free under <paramref name="limit"/>: an eighth, at least 64, at most 1024.</summary>
    public static long Reserve(long limit) => Math.Clamp(limit / 8, 64, 1024);

    /// <summary>Charges one connection when there is room for it; false (nothing charged) when not.</summary>
    public bool TryCharge()
    {
        lock (_lock)
        {
            if (!_read || time.GetElapsedTime(_readAt) >= RefreshInterval)
            {
                try
                {
                    _open = _countOpen();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Not even the directory of our own descriptors opens: that is the shortage itself.
                    return false;
                }

                _readAt = time.GetTimestamp();
                _read = true;
            }

            var limit = _readLimit();
            if (_open + ChargePerConnection + Reserve(limit) > limit)
            {
                return false;
            }

            _open += ChargePerConnection;
            return true;
        }
    }

    /// <summary>
    /// Raises this process's soft descriptor limit to its hard limit (as the Go runtime does for its
    /// daemons): the soft default of 1024 is below the default connection caps. The limits before
    /// and after; unchanged when the call fails.
    /// </summary>
    public static (ulong Before, ulong After) RaiseSoftLimit()
    {
        if (GetRLimit(RLimitNoFile, out var limit) != 0)
        {
            return (0, 0);
        }

        var before = limit.Current;
        if (limit.Current < limit.Maximum)
        {
            var raised = limit with { Current = limit.Maximum };
            if (SetRLimit(RLimitNoFile, in raised) == 0)
            {
                return (before, raised.Current);
            }
        }

        return (before, before);
    }

    private static long ReadLimit() =>
        GetRLimit(RLimitNoFile, out var value) == 0 ? (long)Math.Min(value.Current, long.MaxValue) : long.MaxValue;

    private const int RLimitNoFile = 7;

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct RLimit(ulong Current, ulong Maximum);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}
