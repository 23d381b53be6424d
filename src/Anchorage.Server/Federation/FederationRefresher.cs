using System.Collections.Concurrent;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Retry;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation.Internal;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Federation;

/// <summary>
/// Keeps every federated trust domain's bundle current: fetches each relationship's bundle
/// endpoint when its refresh is due, stores what <see cref="BundleFetcher"/> accepts under that
/// trust domain only, and records every outcome (datastore refresh state, a row of the fetch history,
/// a log line and an audit record per fetch, an audit record per stored bundle change).
/// </summary>
/// <remarks>
/// Schedule: after a success, at the peer's <c>spiffe_refresh_hint</c> (default 5 minutes), never
/// sooner than <see cref="FederationOptions.RefreshFloor"/>. After a failure, the floor doubled per
/// consecutive failure, capped at the hint, with equal jitter (the one <see cref="Backoff"/>: between
/// half and all of that step, never sooner than the floor): the last good bundle stays in use.
/// Every server of a trust domain runs a refresher; the checks make concurrent fetches harmless.
/// </remarks>
public sealed class FederationRefresher : IFederationRefresher, IAsyncDisposable
{
    /// <summary>The refresh interval when the peer's bundle gives no hint.</summary>
    public static readonly TimeSpan DefaultRefreshHint = TimeSpan.FromMinutes(5);

    private readonly IDataStore _store;
    private readonly BundleFetcher _fetcher;
    private readonly TimeSpan _floor;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IAuditSink _audit;
    private readonly ConcurrentDictionary<TrustDomain, SemaphoreSlim> _locks = new();
    private readonly ConcurrentDictionary<TrustDomain, FederationReading> _readings = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _disposed;

    /// <summary>Creates a refresher; <see cref="Start"/> begins the schedule.</summary>
    /// <param name="store">Relationships, their refresh state and the federated bundles.</param>
    /// <param name="fetcher">Fetches and checks a bundle endpoint (owned: disposed with the refresher).</param>
    /// <param name="options">The refresh floor.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Receives a line per fetch (3600-3699).</param>
    /// <param name="audit">Receives a <see cref="AuditKinds.FederationFetch"/> record per fetch and a <see cref="AuditKinds.Bundle"/> record per stored change; default none.</param>
    public FederationRefresher(IDataStore store, BundleFetcher fetcher, FederationOptions options, TimeProvider time, ILogger logger, IAuditSink? audit = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(fetcher);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _fetcher = fetcher;
        _floor = options.RefreshFloor;
        _time = time;
        _logger = logger;
        _audit = audit ?? NullAuditSink.Instance;
    }

    /// <summary>Raised after a fetch stored a changed bundle (argument: its trust domain).</summary>
    public event EventHandler<TrustDomain>? BundleChanged;

    /// <summary>Raised after a fetch failed or its bundle was rejected (argument: the trust domain); for the metrics.</summary>
    internal event EventHandler<TrustDomain>? RefreshFailed;

    /// <summary>
    /// What this refresher last saw per relationship (the list it reads every tick, updated after
    /// each fetch), so metric callbacks never query the datastore.
    /// </summary>
    internal ICollection<FederationReading> Readings => _readings.Values;

    /// <summary>Starts the background schedule.</summary>
    public void Start()
    {
        if (_loop.IsCompleted)
        {
            _loop = Task.Run(() => RunAsync(_stop.Token));
        }
    }

    /// <inheritdoc/>
    public async Task<FederationRefreshState> RefreshNowAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        var found = await _store.GetRelationshipAsync(trustDomain, cancellationToken).ConfigureAwait(false)
            ?? throw Deleted(trustDomain);
        return await RefreshAsync(found.Relationship, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        _stop.Dispose();
        _fetcher.Dispose();
        foreach (var gate in _locks.Values)
        {
            gate.Dispose();
        }
    }

    /// <summary>When the next fetch is due after an outcome (also used by tests and the governance view).</summary>
    internal DateTimeOffset NextRefresh(DateTimeOffset now, TimeSpan? hint, int consecutiveFailures)
    {
        var cap = hint is { } h && h > TimeSpan.Zero ? h : DefaultRefreshHint;
        if (cap < _floor)
        {
            cap = _floor;
        }

        if (consecutiveFailures == 0)
        {
            return now + cap;
        }

        // Equal jitter, so that servers retrying the same endpoint spread out.
        var delay = new Backoff(_floor, cap, _time).DelayAfter(consecutiveFailures);
        return now + (delay < _floor ? _floor : delay);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var tick = _floor < TimeSpan.FromSeconds(5) ? _floor : TimeSpan.FromSeconds(5);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var now = _time.GetUtcNow();
                var relationships = await _store.ListRelationshipsAsync(cancellationToken).ConfigureAwait(false);
                Remember(relationships);
                foreach (var (relationship, state) in relationships)
                {
                    if (state.NextRefresh is null || state.NextRefresh <= now)
                    {
                        try
                        {
                            await RefreshAsync(relationship, cancellationToken).ConfigureAwait(false);
                        }
                        catch (KeyNotFoundException)
                        {
                            // Deleted after the list was read or while its fetch ran: nothing to refresh.
                            FederationLog.DeletedDuringFetch(_logger, relationship.TrustDomain.Name);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (DataStoreUnavailableException e)
            {
                FederationLog.StoreUnavailable(_logger, e.Message);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // A corrupt row or another fault this tick must not stop every later refresh.
                FederationLog.TickFailed(_logger, e.GetType().Name, e.Message);
            }

            await Task.Delay(tick, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Remember(IReadOnlyList<(FederationRelationship Relationship, FederationRefreshState State)> relationships)
    {
        var current = relationships.Select(r => r.Relationship.TrustDomain).ToHashSet();
        foreach (var gone in _readings.Keys.Where(td => !current.Contains(td)))
        {
            _readings.TryRemove(gone, out _);
        }

        // The list carries no bundle: keep the sequence this refresher last saw for the trust domain.
        foreach (var (relationship, state) in relationships)
        {
            _readings.AddOrUpdate(
                relationship.TrustDomain,
                td => new FederationReading(td, state.LastSuccess, null),
                (td, seen) => seen with { LastSuccess = Later(state.LastSuccess, seen.LastSuccess) });
        }
    }

    /// <summary>A URL as the audit trail shows it: scheme, host, port and path; never a query, fragment or user info.</summary>
    internal static string AuditUrl(Uri url) =>
        url.IsAbsoluteUri ? url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) : url.OriginalString;

    /// <summary>A <c>spiffe_sequence</c> (uint64) as the audit record's number; one beyond <see cref="long.MaxValue"/> is left out rather than wrapped.</summary>
    internal static long? AuditSequence(ulong? sequence) => sequence is { } value && value <= long.MaxValue ? (long)value : null;

    private void AuditFetch(TrustDomain trustDomain, BundleFetchResult result, string outcome, DateTimeOffset now) =>
        _audit.Write(new AuditRecord
        {
            Time = now,
            Kind = AuditKinds.FederationFetch,
            TrustDomain = trustDomain.Name,
            Url = AuditUrl(result.FinalUrl),
            Outcome = outcome,
            Sequence = AuditSequence(result.Sequence),
            AuthoritiesAdded = result.Accepted ? result.AuthoritiesAdded : null,
            AuthoritiesRemoved = result.Accepted ? result.AuthoritiesRemoved : null,
        });

    private void AuditBundleStored(TrustDomain trustDomain, string change, BundleFetchResult result, DateTimeOffset now) =>
        _audit.Write(new AuditRecord
        {
            Time = now,
            Kind = AuditKinds.Bundle,
            Decision = change,
            TrustDomain = trustDomain.Name,
            Url = AuditUrl(result.FinalUrl),
            Sequence = AuditSequence(result.Bundle?.SequenceNumber),
            AuthoritiesAdded = result.AuthoritiesAdded,
            AuthoritiesRemoved = result.AuthoritiesRemoved,
        });

    // A rotation without overlap, as seen from here: the new bundle shares no X.509 authority with the
    // stored one, so the successor was not published before its predecessor went (issue 15 item 2).
    private static bool ReplacedEveryAuthority(SpiffeBundle? current, SpiffeBundle next) =>
        current is { X509Authorities.Length: > 0 } && next.X509Authorities.Length > 0
        && !current.X509Authorities.Any(old => next.X509Authorities.Any(n => n.RawDataMemory.Span.SequenceEqual(old.RawDataMemory.Span)));

    private static KeyNotFoundException Deleted(TrustDomain trustDomain) => new($"no federation relationship with {trustDomain.Name}");

    // A relationship deleted while its fetch ran has no state to save: the fetch ends as if it had
    // not been listed (the delete removed its bundle, history and state in one transaction).
    private async Task SaveStateAsync(TrustDomain trustDomain, FederationRefreshState next, CancellationToken cancellationToken)
    {
        try
        {
            await _store.UpdateRefreshStateAsync(trustDomain, next, cancellationToken).ConfigureAwait(false);
        }
        catch (DataStoreNotFoundException)
        {
            throw Deleted(trustDomain);
        }
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a > b ? a : b;

    private async Task<FederationRefreshState> RefreshAsync(FederationRelationship relationship, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(relationship.TrustDomain, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var found = await _store.GetRelationshipAsync(relationship.TrustDomain, cancellationToken).ConfigureAwait(false)
                ?? throw Deleted(relationship.TrustDomain);

            (relationship, var state) = found;
            var current = (await _store.GetBundleAsync(relationship.TrustDomain, cancellationToken).ConfigureAwait(false))?.Bundle;
            var result = await _fetcher.FetchAsync(relationship.Endpoint, current, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            FederationRefreshState next;
            if (result.Accepted && result.Bundle is { } bundle)
            {
                if (result.Changed && await _store.SetFederatedBundleAsync(bundle, cancellationToken).ConfigureAwait(false) is null)
                {
                    // The relationship was deleted while the fetch ran: its bundle stays deleted.
                    throw Deleted(relationship.TrustDomain);
                }

                FederationLog.FetchAccepted(
                    _logger, relationship.TrustDomain.Name, result.FinalUrl, result.Sequence, result.Changed,
                    result.AuthoritiesAdded, result.AuthoritiesRemoved);
                AuditFetch(relationship.TrustDomain, result, result.Changed ? "updated" : "unchanged", now);
                if (result.Changed)
                {
                    AuditBundleStored(relationship.TrustDomain, current is null ? "added" : "updated", result, now);
                }

                next = state with
                {
                    RotationWithoutOverlapAt = result.Changed && ReplacedEveryAuthority(current, bundle) ? now : state.RotationWithoutOverlapAt,
                    ClockSkew = result.ClockSkew ?? state.ClockSkew,
                    LastSuccess = now,
                    LastAttempt = now,
                    LastError = null,
                    ConsecutiveFailures = 0,
                    NextRefresh = NextRefresh(now, bundle.RefreshHint, 0),
                };
                await SaveStateAsync(relationship.TrustDomain, next, cancellationToken).ConfigureAwait(false);
                await _store.AddFetchAsync(
                    relationship.TrustDomain,
                    new FederationFetch(
                        now, result.Changed ? FederationFetch.Ok : FederationFetch.NotModified, null,
                        result.Sequence ?? bundle.SequenceNumber, result.RefreshHint ?? bundle.RefreshHint, result.ClockSkew),
                    cancellationToken).ConfigureAwait(false);
                _readings[relationship.TrustDomain] = new FederationReading(relationship.TrustDomain, now, bundle.SequenceNumber);
                if (result.Changed)
                {
                    BundleChanged?.Invoke(this, relationship.TrustDomain);
                }
            }
            else
            {
                var failures = state.ConsecutiveFailures + 1;
                var error = result.Error ?? "the bundle was rejected";
                FederationLog.FetchRejected(_logger, relationship.TrustDomain.Name, result.FinalUrl, error, failures);
                AuditFetch(relationship.TrustDomain, result, error, now);
                next = state with
                {
                    LastAttempt = now,
                    LastError = error,
                    LastErrorAt = now,
                    ConsecutiveFailures = failures,
                    NextRefresh = NextRefresh(now, current?.RefreshHint, failures),
                };
                await SaveStateAsync(relationship.TrustDomain, next, cancellationToken).ConfigureAwait(false);
                await _store.AddFetchAsync(
                    relationship.TrustDomain,
                    new FederationFetch(now, FederationFetch.Error, error, result.Sequence, result.RefreshHint, result.ClockSkew),
                    cancellationToken).ConfigureAwait(false);
                _readings[relationship.TrustDomain] = new FederationReading(relationship.TrustDomain, state.LastSuccess, current?.SequenceNumber);
                RefreshFailed?.Invoke(this, relationship.TrustDomain);
            }

            return next;
        }
        finally
        {
            gate.Release();
        }
    }
}
