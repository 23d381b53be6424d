using Anchorage.Foundation.Ids;
using Anchorage.Server.Attestation;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api.Internal;

/// <summary>Every registration entry at one revision, indexed for "which entries may this agent hold".</summary>
/// <param name="Index">The authorization index.</param>
/// <param name="Revision">The store revision the snapshot is at.</param>
/// <param name="LastAliasChange">
/// The last revision at which a node-alias entry was created, changed or deleted (or, after a
/// restart, the revision first loaded: changes before it are unknown). Agents that synced before it
/// get a full resync, since their set of aliases, and so of entries, may have changed.
/// </param>
internal sealed record EntrySnapshot(AuthorizedEntries Index, long Revision, long LastAliasChange);

/// <summary>
/// Keeps an <see cref="EntrySnapshot"/> current by reading the store's entry changes since the
/// snapshot's revision: one small query per request when nothing changed, and an index rebuilt in
/// memory when something did. Several servers sharing a database each follow the same change log.
/// </summary>
internal sealed class EntrySnapshotCache : IDisposable
{
    private const int ChangesPerRead = 5000;

    private readonly IDataStore _store;
    private readonly TrustDomain _trustDomain;
    private readonly SpiffeId _serverId;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<string, RegistrationEntry> _entries = new(StringComparer.Ordinal);
    private EntrySnapshot? _current;
    private long _refreshes;

    public EntrySnapshotCache(IDataStore store, TrustDomain trustDomain, ILoggerFactory loggerFactory)
    {
        _store = store;
        _trustDomain = trustDomain;
        _serverId = AnchorageIds.ServerId(trustDomain);
        _logger = loggerFactory.CreateLogger(ApiLog.Category);
    }

    /// <summary>
    /// The snapshot, brought up to the store's latest revision. Callers that waited while another
    /// refreshed take that result: agents report the snapshot's revision, so a change it misses
    /// reaches them on their next sync.
    /// </summary>
    public async Task<EntrySnapshot> GetAsync(CancellationToken cancellationToken)
    {
        var seen = Interlocked.Read(ref _refreshes);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = _current;
            if (current is not null && Interlocked.Read(ref _refreshes) != seen)
            {
                return current;
            }

            return await RefreshAsync(current, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A read failed part way: the entries may be ahead of the snapshot, so start over next time.
            _entries.Clear();
            _current = null;
            throw;
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _lock.Dispose();

    private async Task<EntrySnapshot> RefreshAsync(EntrySnapshot? current, CancellationToken cancellationToken)
    {
        var revision = current?.Revision ?? 0;
        var changed = current is null;
        var aliasChanged = false;
        while (true)
        {
            var changes = await _store.ListEntryChangesAsync(revision, ChangesPerRead, cancellationToken).ConfigureAwait(false);
            foreach (var entry in changes.Upserted)
            {
                aliasChanged |= entry.ParentId == _serverId
                    || (_entries.TryGetValue(entry.Id, out var old) && old.ParentId == _serverId);
                _entries[entry.Id] = entry;
            }

            foreach (var id in changes.DeletedIds)
            {
                if (_entries.Remove(id, out var old))
                {
                    aliasChanged |= old.ParentId == _serverId;
                }
            }

            changed |= changes.Upserted.Count > 0 || changes.DeletedIds.Count > 0;
            revision = Math.Max(revision, changes.Revision);
            if (!changes.HasMore)
            {
                break;
            }
        }

        if (changed)
        {
            var lastAliasChange = current is null || aliasChanged ? revision : current.LastAliasChange;
            _current = current = new EntrySnapshot(AuthorizedEntries.Create(_trustDomain, _entries.Values), revision, lastAliasChange);
            ApiLog.EntrySnapshotRefreshed(_logger, revision, _entries.Count);
        }

        Interlocked.Increment(ref _refreshes);
        return current!;
    }
}
