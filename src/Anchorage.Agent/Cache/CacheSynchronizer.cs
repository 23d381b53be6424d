using System.Collections.Immutable;
using Anchorage.Agent.Cache.Internal;
using Anchorage.Agent.Node;
using Anchorage.Agent.Policy;
using Anchorage.Foundation.Retry;
using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Cache;

/// <summary>
/// Keeps the <see cref="WorkloadCache"/> in step with the server: renews the agent SVID at half
/// life, pulls bundles and tainted authorities, syncs entries incrementally (by revision), and
/// asks for X.509-SVIDs in batches for entries that have none, changed, reached half life (plus
/// jitter), or were signed by a tainted authority; and, when given a <see cref="ServerPolicySource"/>,
/// fetches the communication policy when the server holds a newer version. On failure it retries
/// with backoff and jitter while the cache keeps serving what it holds.
/// </summary>
public sealed class CacheSynchronizer : IDisposable
{
    /// <summary>At most this many CSRs per <c>BatchNewX509Svid</c> call (the server's default cap, <c>agentApiLimits.maxX509SvidBatch</c>).</summary>
    public const int BatchSize = 50;

    /// <summary>The longest wait between two attempts while the server is unreachable.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);

    private readonly NodeSession _session;
    private readonly WorkloadCache _cache;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly ServerPolicySource? _policy;
    private readonly SvidIssuer _issuer;
    private bool _policyNotServed;
    private bool _usageNotServed;
    private readonly HeldBundleReport _held = new();
    private string? _lastError;

    /// <summary>Creates a synchronizer; <see cref="RunAsync"/> starts it.</summary>
    /// <param name="session">The agent's standing with the server.</param>
    /// <param name="cache">The cache filled.</param>
    /// <param name="interval">Time between two syncs when nothing is due sooner.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Receives sync failures and skipped items.</param>
    /// <param name="policy">Receives the server's communication policy; null: the policy is not fetched.</param>
    public CacheSynchronizer(NodeSession session, WorkloadCache cache, TimeSpan interval, TimeProvider time, ILogger logger, ServerPolicySource? policy = null)
    {
        _policy = policy;
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _session = session;
        _cache = cache;
        _interval = interval;
        _time = time;
        _logger = logger;
        _issuer = new SvidIssuer(session, time, logger);
    }

    /// <summary>Called for every workload SVID received; the argument is true when it replaced one (a rotation).</summary>
    internal Action<bool>? SvidIssued { get; set; }

    /// <summary>Observed use, reported to the server at the end of each sync; null: not reported.</summary>
    public Node.UsageRecorder? Usage { get; init; }

    /// <summary>Called for every failed sync.</summary>
    internal Action? SyncFailed { get; set; }

    /// <summary>When the last sync succeeded; null before the first.</summary>
    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>Why the last sync failed; null when it succeeded.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>
    /// Runs until <paramref name="cancellationToken"/> fires: a sync every interval (sooner when an
    /// SVID is due), and at once whenever the server's <c>WatchBundles</c> stream reports a change.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var watch = Task.Run(() => WatchBundlesAsync(cancellationToken), CancellationToken.None);
        try
        {
            await SyncLoopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await watch.ConfigureAwait(false);
        }
    }

    private async Task SyncLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(FirstBackoff, MaxBackoff, _time);
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                await SyncOnceAsync(cancellationToken).ConfigureAwait(false);
                backoff.Reset();
                delay = NextWake();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e)
            {
                delay = backoff.Next();
                var error = $"{e.StatusCode}: {e.Status.Detail}";
                if (Interlocked.Exchange(ref _lastError, error) != error)
                {
                    CacheLog.SyncFailed(_logger, e.StatusCode, e.Status.Detail, delay);
                }
            }

            try
            {
                // Whichever comes first: the delay, or a change reported by the server. The loser
                // is cancelled; a wake-up that races the delay is harmless (the sync runs anyway).
                using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var woken = _wake.WaitAsync(either.Token);
                var elapsed = Task.Delay(delay, _time, either.Token);
                await Task.WhenAny(woken, elapsed).ConfigureAwait(false);
                await either.CancelAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // The server pushes a version whenever a bundle or the tainted authorities change; every
    // version after the first wakes the sync loop. Errors are retried quietly: polling still runs.
    private async Task WatchBundlesAsync(CancellationToken cancellationToken)
    {
        string? seen = null;
        var pause = new Backoff(FirstBackoff * 2, FirstBackoff * 2, _time);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var call = _session.Client.WatchBundles(new WatchBundlesRequest(), cancellationToken: cancellationToken);
                await foreach (var change in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (seen is not null && !string.Equals(seen, change.Version, StringComparison.Ordinal))
                    {
                        Wake();
                    }

                    seen = change.Version;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                // A server without the stream: polling alone.
                return;
            }
            catch (RpcException)
            {
                // Reconnect after a pause; the sync loop reports server problems.
            }

            try
            {
                await pause.DelayAsync(pause.DelayAfter(1), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A wake-up is already pending.
        }
    }

    /// <summary>One full round: renew, bundles, entries, SVIDs, policy. Concurrent calls run one after the other.</summary>
    /// <exception cref="RpcException">The server could not be reached or refused; the cache is unchanged by the failed part.</exception>
    public async Task SyncOnceAsync(CancellationToken cancellationToken)
    {
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _session.RenewIfDueAsync(cancellationToken).ConfigureAwait(false);
            var state = _cache.State;
            var (next, tainted) = await PullBundlesAsync(state, cancellationToken).ConfigureAwait(false);
            if (tainted.Count > 0 && SvidIssuer.AuthorityIds(_session.Svid.Certificates).Any(tainted.Contains))
            {
                // The agent's own SVID was signed by a tainted authority: replace it before the
                // authority is revoked, as the workloads' SVIDs are below.
                await _session.RenewNowAsync(cancellationToken).ConfigureAwait(false);
            }

            next = await PullEntriesAsync(next, cancellationToken).ConfigureAwait(false);
            next = await _issuer.IssueAsync(next, tainted, SvidIssued, cancellationToken).ConfigureAwait(false);
            if (!ReferenceEquals(next, state) && next != state)
            {
                _cache.Publish(next);
            }

            await PullPolicyAsync(cancellationToken).ConfigureAwait(false);
            await ReportUsageAsync(cancellationToken).ConfigureAwait(false);

            _session.Observe(null, cancellationToken);
            LastSuccess = _time.GetUtcNow();
            if (Interlocked.Exchange(ref _lastError, null) is not null)
            {
                CacheLog.SyncRecovered(_logger);
            }
        }
        catch (RpcException e)
        {
            _session.Observe(e, cancellationToken);
            SyncFailed?.Invoke();
            throw;
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task<(CacheState Next, IReadOnlySet<string> Tainted)> PullBundlesAsync(CacheState state, CancellationToken cancellationToken)
    {
        var response = await _session.Client.GetBundlesAsync(new GetBundlesRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
        var trustDomain = _session.AgentId.TrustDomain;
        SpiffeBundle own;
        try
        {
            own = SpiffeBundle.Parse(trustDomain, response.Own.SpiffeBundleJson.Span);
        }
        catch (Exception e) when (e is SpiffeException or FormatException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "the server sent an unusable bundle of its own trust domain: " + e.Message));
        }

        var federated = ImmutableDictionary.CreateBuilder<TrustDomain, SpiffeBundle>();
        foreach (var proto in response.Federated)
        {
            if (!TrustDomain.TryParse(proto.TrustDomain, out var td) || td == trustDomain)
            {
                CacheLog.FederatedBundleSkipped(_logger, proto.TrustDomain, "not a foreign trust domain");
                continue;
            }

            try
            {
                // Parsed for its own trust domain only: a federated bundle never vouches for another.
                federated[td] = SpiffeBundle.Parse(td, proto.SpiffeBundleJson.Span);
            }
            catch (Exception e) when (e is SpiffeException or FormatException)
            {
                CacheLog.FederatedBundleSkipped(_logger, proto.TrustDomain, e.Message);
                if (state.Federated.TryGetValue(td, out var previous))
                {
                    federated[td] = previous;
                }
            }
        }

        var tainted = response.Tainted.Where(t => t.Kind == "x509").Select(t => t.Id.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        if (response.Tainted.Any(t => t.Kind == "jwt"))
        {
            _cache.DropJwtSvids();
        }

        _session.UpdateBundle(own);
        var next = state;
        if (state.OwnBundle?.SequenceNumber != own.SequenceNumber || state.OwnBundle is null)
        {
            next = next with { OwnBundle = own };
        }

        var federatedNow = federated.ToImmutable();
        if (!SameSequences(state.Federated, federatedNow))
        {
            next = next with { Federated = federatedNow };
        }

        return (next, tainted);
    }

    // The text travels only when the server holds a newer version than the one known here.
    private async Task PullPolicyAsync(CancellationToken cancellationToken)
    {
        if (_policy is null || _policyNotServed)
        {
            return;
        }

        GetPolicyResponse response;
        try
        {
            response = await _session.Client.GetPolicyAsync(
                new GetPolicyRequest { KnownVersion = _policy.KnownVersion }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            // An older server: identities keep syncing; the gate denies by default.
            _policyNotServed = true;
            PolicyLog.NotServed(_logger);
            return;
        }

        if (response.Policy is { } policy && policy.Version > 0)
        {
            _policy.Offer(policy.Version, policy.Yaml);
        }
    }

    // What the gate and the Workload API saw of federated trust domains since the last report; kept
    // for the next report when this one fails, dropped when the server is too old to take it. With it,
    // the federated bundle sequences held now, when they differ from the last accepted report.
    private async Task ReportUsageAsync(CancellationToken cancellationToken)
    {
        if (_usageNotServed)
        {
            return;
        }

        IReadOnlyList<TrustDomainUsage> rows = Usage is null ? [] : Usage.Take();
        var held = _held.Changed(_cache.State.Federated);
        if (rows.Count == 0 && held is null)
        {
            return;
        }

        var request = new ReportUsageRequest();
        request.Usage.AddRange(rows);
        if (held is { } h)
        {
            request.Held.AddRange(h.Rows);
            request.ReportsHeld = true;
        }

        try
        {
            await _session.Client.ReportUsageAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (held is { } accepted)
            {
                _held.Accept(accepted.Key);
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            _usageNotServed = true;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            // Refused as malformed: sending the same rows again would fail every sync after this one.
            CacheLog.UsageRefused(_logger, e.Status.Detail);
            if (held is { } refused)
            {
                _held.Accept(refused.Key);
            }
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
            Usage?.Restore(rows);
            throw;
        }
    }

    private async Task<CacheState> PullEntriesAsync(CacheState state, CancellationToken cancellationToken)
    {
        using var call = _session.Client.SyncEntries(new SyncEntriesRequest { SinceRevision = state.Revision }, cancellationToken: cancellationToken);
        var entries = state.Entries.ToBuilder();
        var revision = state.Revision;
        var changed = false;
        var first = true;
        await foreach (var page in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (first && page.FullResync)
            {
                changed |= entries.Count > 0;
                entries.Clear();
            }

            first = false;
            foreach (var proto in page.Upserted)
            {
                var entry = CachedEntry.From(proto, out var problem);
                if (entry is null)
                {
                    CacheLog.EntrySkipped(_logger, proto.Id, problem!);
                    continue;
                }

                entries[entry.EntryId] = entry;
                changed = true;
            }

            foreach (var id in page.RemovedIds)
            {
                changed |= entries.Remove(id);
            }

            revision = page.Revision;
        }

        if (!changed && revision == state.Revision)
        {
            return state;
        }

        var built = entries.ToImmutable();
        var svids = state.Svids;
        foreach (var id in svids.Keys)
        {
            if (!built.ContainsKey(id))
            {
                svids = svids.Remove(id);
            }
        }

        return state with { Entries = built, Svids = svids, Revision = revision };
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _running.Dispose();
        _wake.Dispose();
    }

    private static bool SameSequences(ImmutableDictionary<TrustDomain, SpiffeBundle> a, ImmutableDictionary<TrustDomain, SpiffeBundle> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other) && other.SequenceNumber == kv.Value.SequenceNumber);

    // The next sync: the interval, or sooner when an SVID (or the agent's own) reaches its renewal time.
    private TimeSpan NextWake()
    {
        var now = _time.GetUtcNow();
        var wake = now + _interval;
        foreach (var held in _cache.State.Svids.Values)
        {
            if (held.RenewAt < wake)
            {
                wake = held.RenewAt;
            }
        }

        var agentRenewal = NodeSession.RenewalTime(_session.Svid.Leaf);
        if (agentRenewal < wake)
        {
            wake = agentRenewal;
        }

        var delay = wake - now;
        return delay < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : delay;
    }
}
