using System.Runtime.CompilerServices;
using Anchorage.Agent.Cache.Internal;
using Anchorage.Agent.Node;
using Anchorage.Foundation.Limits;
using Anchorage.Foundation.Selectors;
using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Cache;

/// <summary>
/// The identities this node holds, as workloads see them. <see cref="CacheSynchronizer"/> fills it
/// from the server; the Workload API (and the gate) read it through <see cref="IWorkloadCache"/>.
/// Reads are lock-free over an immutable <see cref="CacheState"/>; every published state
/// supersedes the previous snapshots (their <see cref="WorkloadIdentity.Changed"/> fires).
/// </summary>
/// <remarks>
/// Matching: a workload gets every entry whose selectors are all among the workload's. Order:
/// the oldest entry first (creation time, then entry id), so the default SVID is stable. Two
/// matching entries with the same hint: only the first is served (Workload API §5.2.1 wants
/// hints unique). An SVID is served until it expires, also while the server is unreachable.
/// </remarks>
public sealed class WorkloadCache : IWorkloadCache, IDisposable
{
    private readonly TrustDomain _trustDomain;
    private readonly NodeSession _session;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConditionalWeakTable<WorkloadIdentity, IReadOnlyDictionary<SpiffeId, string>> _entryIds = new();
    private readonly JwtSvidCache _jwts;
    private readonly KeyedTokenBucket<string> _mints;
    private readonly Lock _publish = new();
    private CacheState _state = new();
    private CancellationTokenSource _changed = new();

    /// <summary>Creates an empty cache for a node whose server session is <paramref name="session"/>.</summary>
    public WorkloadCache(TrustDomain trustDomain, NodeSession session, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _trustDomain = trustDomain;
        _session = session;
        _time = time;
        _logger = logger;
        _jwts = new JwtSvidCache(JwtSvidCapacity, time);
        _mints = new KeyedTokenBucket<string>(time, JwtMintsPerSecondPerEntry, JwtMintsPerSecondPerEntry * 2);
    }

    /// <summary>How many minted JWT-SVIDs are kept for reuse (least recently used dropped first).</summary>
    public const int JwtSvidCapacity = 4096;

    /// <summary>JWT-SVIDs one entry may have minted per second (bursts of twice as many); cached answers do not count.</summary>
    public const int JwtMintsPerSecondPerEntry = 20;

    /// <summary>The gRPC message when an entry mints too fast.</summary>
    public const string TooManyMints = "too many new jwt-svids for this identity; retry later";

    /// <summary>JWT-SVIDs held for reuse now.</summary>
    internal int JwtSvidsHeld => _jwts.Count;

    /// <summary>Raised after a new state is published.</summary>
    public event EventHandler? Changed;

    /// <summary>How many entries the node may hold.</summary>
    public int EntryCount => Volatile.Read(ref _state).Entries.Count;

    /// <summary>How many X.509-SVIDs the node holds.</summary>
    public int SvidCount => Volatile.Read(ref _state).Svids.Count;

    /// <summary>True once a bundle of the own trust domain is known (the first sync happened).</summary>
    public bool HasBundle => Volatile.Read(ref _state).OwnBundle is not null;

    internal CacheState State => Volatile.Read(ref _state);

    /// <inheritdoc/>
    public WorkloadIdentity? Resolve(string caller, IReadOnlyCollection<Selector> selectors)
    {
        ArgumentException.ThrowIfNullOrEmpty(caller);
        ArgumentNullException.ThrowIfNull(selectors);
        CacheState state;
        CancellationToken changed;
        lock (_publish)
        {
            state = _state;
            changed = _changed.Token;
        }

        if (state.OwnBundle is null)
        {
            return null;
        }

        var have = new HashSet<string>(selectors.Count, StringComparer.Ordinal);
        foreach (var selector in selectors)
        {
            have.Add(selector.ToString());
        }

        var matched = new List<CachedEntry>();
        var index = state.BySelector;
        foreach (var selector in have)
        {
            if (!index.TryGetValue(selector, out var candidates))
            {
                continue;
            }

            foreach (var entry in candidates)
            {
                if (entry.Matches(have) && !matched.Contains(entry))
                {
                    matched.Add(entry);
                }
            }
        }

        if (matched.Count == 0)
        {
            return null;
        }

        matched.Sort(static (a, b) =>
        {
            var order = a.Proto.CreatedAt.CompareTo(b.Proto.CreatedAt);
            return order != 0 ? order : string.CompareOrdinal(a.EntryId, b.EntryId);
        });

        var now = _time.GetUtcNow();
        var svids = new List<X509Svid>(matched.Count);
        var ids = new Dictionary<SpiffeId, string>();
        var hints = new HashSet<string>(StringComparer.Ordinal);
        var bundles = BundleSet.Empty.With(state.OwnBundle);
        foreach (var entry in matched)
        {
            if (!state.Svids.TryGetValue(entry.EntryId, out var held) || held.NotAfter <= now)
            {
                continue;
            }

            var hint = held.Svid.Hint;
            if (!string.IsNullOrEmpty(hint) && !hints.Add(hint))
            {
                continue;
            }

            svids.Add(held.Svid);
            ids.TryAdd(entry.Id, entry.EntryId);
            foreach (var td in entry.FederatesWith)
            {
                if (td != _trustDomain && state.Federated.TryGetValue(td, out var federated))
                {
                    bundles = bundles.With(federated);
                }
            }
        }

        if (svids.Count == 0)
        {
            return null;
        }

        var identity = new WorkloadIdentity(caller, _trustDomain, svids, bundles, changed);
        _entryIds.AddOrUpdate(identity, ids);
        return identity;
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity, IReadOnlyList<SpiffeId> spiffeIds, IReadOnlyList<string> audience, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(spiffeIds);
        ArgumentNullException.ThrowIfNull(audience);
        if (!_entryIds.TryGetValue(identity, out var entryIds))
        {
            throw new ArgumentException("the identity was not resolved by this cache", nameof(identity));
        }

        var audienceKey = string.Join('\n', audience);
        var result = new List<JwtSvid>(spiffeIds.Count);
        foreach (var id in spiffeIds)
        {
            if (!entryIds.TryGetValue(id, out var entryId))
            {
                throw new ArgumentException($"{id} is not held by the caller", nameof(spiffeIds));
            }

            var hint = identity.X509Svids.FirstOrDefault(s => s.Id == id)?.Hint;
            result.Add((await GetJwtAsync(entryId, audience, audienceKey, cancellationToken).ConfigureAwait(false)).WithHint(hint));
        }

        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_publish)
        {
            _changed.Dispose();
        }
    }

    /// <summary>Publishes <paramref name="next"/>: current snapshots are superseded.</summary>
    internal void Publish(CacheState next)
    {
        ArgumentNullException.ThrowIfNull(next);
        CancellationTokenSource previous;
        lock (_publish)
        {
            _state = next;
            previous = _changed;
            _changed = new CancellationTokenSource();
        }

        // Removed or re-issued entries must not keep serving cached JWT-SVIDs.
        _jwts.RemoveEntries(id => next.Entries.ContainsKey(id) && next.Svids.GetValueOrDefault(id) is not null);

        previous.Cancel();
        previous.Dispose();
        Changed?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>Forgets every cached JWT-SVID (an authority was tainted or the bundle changed).</summary>
    internal void DropJwtSvids() => _jwts.Clear();

    // A JWT-SVID is reused for the same entry and audience until half its lifetime has passed.
    private async ValueTask<JwtSvid> GetJwtAsync(string entryId, IReadOnlyList<string> audience, string audienceKey, CancellationToken cancellationToken)
    {
        if (_jwts.TryGet(entryId, audienceKey) is { } cached)
        {
            return cached;
        }

        // Every miss is a signature on the server: an entry's callers may not ask for it endlessly
        // (e.g. with a new audience each time).
        if (!_mints.TryTake(entryId))
        {
            CacheLog.JwtMintRateLimited(_logger, entryId, JwtMintsPerSecondPerEntry);
            throw new RpcException(new Status(StatusCode.Unavailable, TooManyMints));
        }

        var request = new NewJwtSvidRequest { EntryId = entryId };
        request.Audience.AddRange(audience);
        NewJwtSvidResponse response;
        try
        {
            response = await _session.Client.NewJwtSvidAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
            _session.Observe(null, cancellationToken);
        }
        catch (RpcException e)
        {
            _session.Observe(e, cancellationToken);
            CacheLog.JwtMintFailed(_logger, entryId, e.StatusCode, e.Status.Detail);
            throw new RpcException(new Status(StatusCode.Unavailable, "the agent could not obtain a jwt-svid from its server"));
        }

        JwtSvid jwt;
        try
        {
            jwt = JwtSvid.ParseInsecure(response.Token, audience[0], _time);
        }
        catch (SpiffeException e)
        {
            throw new RpcException(new Status(StatusCode.Internal, "the server returned an unusable jwt-svid: " + e.Message));
        }

        _jwts.Add(entryId, audienceKey, jwt);
        return jwt;
    }
}
