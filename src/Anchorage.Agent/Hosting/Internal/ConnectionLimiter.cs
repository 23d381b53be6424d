namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Counts the open connections of one of the agent's services (the Workload API, the gate), in
/// all and per caller uid, so one local user cannot take every file descriptor of the agent: a
/// connection beyond either cap is closed at once.
/// </summary>
/// <param name="maxConnections">The total cap.</param>
/// <param name="maxPerUid">The cap per uid.</param>
/// <param name="service">The service, as the refusals name it ("workload api", "gate").</param>
/// <param name="descriptors">
/// When given, a connection is also refused while the process is close to its descriptor limit
/// (<see cref="DescriptorBudget"/>), which the caps alone do not prevent.
/// </param>
internal sealed class ConnectionLimiter(int maxConnections, int maxPerUid, string service = "workload api", DescriptorBudget? descriptors = null)
{
    private readonly Dictionary<uint, int> _perUid = [];
    private readonly Lock _lock = new();
    private int _total;
    private int _peak;

    /// <summary>Why a connection was refused: a short lowercase line.</summary>
    public string TotalCapReached { get; } = $"the agent holds its maximum of {service} connections";

    /// <summary>Why a connection was refused: a short lowercase line.</summary>
    public string UidCapReached { get; } = $"the caller's uid holds its maximum of {service} connections";

    /// <summary>The total cap.</summary>
    public int MaxConnections => maxConnections;

    /// <summary>Open connections, all uids.</summary>
    public int Open
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>The most connections open at once since the last call (then the count open now); what <see cref="MemoryTrimmer"/> watches.</summary>
    public int TakePeak()
    {
        lock (_lock)
        {
            var peak = _peak;
            _peak = _total;
            return peak;
        }
    }

    /// <summary>Open connections of <paramref name="uid"/>.</summary>
    public int OpenFor(uint uid)
    {
        lock (_lock)
        {
            return _perUid.GetValueOrDefault(uid);
        }
    }

    /// <summary>
    /// Takes a slot for a connection of <paramref name="uid"/> (null: a caller without a local uid,
    /// counted in the total only); null (and why) when a cap is reached.
    /// </summary>
    public Lease? TryAcquire(uint? uid, out string? refusal)
    {
        lock (_lock)
        {
            // The per-uid cap is checked first: a flooding uid is told about its own cap.
            var count = uid is { } known ? _perUid.GetValueOrDefault(known) : 0;
            if (uid is not null && count >= maxPerUid)
            {
                refusal = UidCapReached;
                return null;
            }

            if (_total >= maxConnections)
            {
                refusal = TotalCapReached;
                return null;
            }

            if (descriptors is not null && !descriptors.TryCharge())
            {
                refusal = DescriptorBudget.Exhausted;
                return null;
            }

            if (uid is { } counted)
            {
                _perUid[counted] = count + 1;
            }

            _total++;
            _peak = Math.Max(_peak, _total);
        }

        refusal = null;
        return new Lease(this, uid);
    }

    private void Release(uint? caller)
    {
        lock (_lock)
        {
            _total--;
            if (caller is not { } uid)
            {
                return;
            }

            var count = _perUid.GetValueOrDefault(uid) - 1;
            if (count <= 0)
            {
                _perUid.Remove(uid);
            }
            else
            {
                _perUid[uid] = count;
            }
        }
    }

    /// <summary>One held slot; disposing returns it.</summary>
    internal sealed class Lease(ConnectionLimiter owner, uint? uid) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(uid);
            }
        }
    }
}
