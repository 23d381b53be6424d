using System.Globalization;
using System.Security.Cryptography;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Registration;

/// <summary>
/// Registration entries as the admin API serves them: validated with <see cref="EntryValidator"/>,
/// stored in the <see cref="IDataStore"/>, with store conflicts turned into messages that name the
/// entry in the way.
/// </summary>
/// <remarks>
/// The store stamps creation times and revisions with its own clock, so this service reads no clock.
/// Datastore outages (<see cref="DataStoreUnavailableException"/>) pass through unchanged.
/// </remarks>
public sealed class EntryService
{
    /// <summary>The page size <see cref="ListAsync"/> accepts at most (the store's limit).</summary>
    public const int MaxPageSize = 10000;

    private readonly IDataStore _store;
    private readonly ILogger _logger;

    /// <summary>Creates the service.</summary>
    public EntryService(IDataStore store, EntryValidator validator, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(validator);
        _store = store;
        Validator = validator;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The rules entries are checked against.</summary>
    public EntryValidator Validator { get; }

    /// <summary>
    /// Validates and stores a new entry. An empty <see cref="RegistrationEntry.Id"/> gets a new random
    /// id (128 bits, 32 lowercase hex characters); a given one is kept. Revision and creation time are
    /// assigned by the store.
    /// </summary>
    /// <exception cref="EntryValidationException">The entry is invalid; every problem is listed.</exception>
    /// <exception cref="EntryConflictException">
    /// <c>an entry with the same spiffe id, parent id and selectors exists: &lt;id&gt;</c>, or
    /// <c>an entry with id "&lt;id&gt;" exists</c>.
    /// </exception>
    public async Task<RegistrationEntry> CreateAsync(RegistrationEntry entry, CancellationToken cancellationToken)
    {
        Validator.ThrowIfInvalid(entry);
        var toStore = string.IsNullOrEmpty(entry.Id) ? entry with { Id = NewId() } : entry;
        RegistrationEntry stored;
        try
        {
            stored = await _store.CreateEntryAsync(toStore, cancellationToken).ConfigureAwait(false);
        }
        catch (DataStoreConflictException ex)
        {
            throw await ExplainConflictAsync(toStore, checkId: true, ex, cancellationToken).ConfigureAwait(false);
        }

        RegistrationLog.EntryCreated(_logger, stored.Id, stored.SpiffeId, stored.ParentId, stored.RevisionNumber);
        return stored;
    }

    /// <summary>
    /// Creates each entry on its own, as <see cref="CreateAsync"/>: one refused entry does not stop the
    /// others. Results are in input order.
    /// </summary>
    /// <exception cref="DataStoreUnavailableException">The datastore failed; entries before the failure may be stored.</exception>
    public async Task<IReadOnlyList<EntryBatchResult>> CreateBatchAsync(IReadOnlyList<RegistrationEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var results = new List<EntryBatchResult>(entries.Count);
        foreach (var entry in entries)
        {
            try
            {
                results.Add(new EntryBatchResult(await CreateAsync(entry, cancellationToken).ConfigureAwait(false), null));
            }
            catch (Exception ex) when (ex is EntryValidationException or EntryConflictException)
            {
                RegistrationLog.EntryRefused(_logger, ex.Message);
                results.Add(new EntryBatchResult(null, ex));
            }
        }

        return results;
    }

    /// <summary>The entry with id <paramref name="id"/>, or null.</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is null or empty.</exception>
    public Task<RegistrationEntry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return _store.GetEntryAsync(id, cancellationToken);
    }

    /// <summary>Validates and replaces the entry with the same id (a new revision; creation time kept).</summary>
    /// <exception cref="EntryValidationException">The entry is invalid, or has no id (<c>id: is required to update an entry</c>).</exception>
    /// <exception cref="EntryNotFoundException">No entry has that id.</exception>
    /// <exception cref="EntryConflictException">Another entry has the same SPIFFE ID, parent ID and selectors.</exception>
    /// <exception cref="DataStoreStaleRevisionException">The entry names a revision (not 0) that is no longer the stored one.</exception>
    public async Task<RegistrationEntry> UpdateAsync(RegistrationEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var problems = Validator.Validate(entry);
        if (string.IsNullOrEmpty(entry.Id))
        {
            problems = [.. (string[])["id: is required to update an entry"], .. problems];
        }

        if (problems.Count > 0)
        {
            throw new EntryValidationException(problems);
        }

        RegistrationEntry stored;
        try
        {
            stored = await _store.UpdateEntryAsync(entry, cancellationToken).ConfigureAwait(false);
        }
        catch (DataStoreNotFoundException ex)
        {
            throw new EntryNotFoundException(entry.Id, ex);
        }
        catch (DataStoreConflictException ex)
        {
            throw await ExplainConflictAsync(entry, checkId: false, ex, cancellationToken).ConfigureAwait(false);
        }

        RegistrationLog.EntryUpdated(_logger, stored.Id, stored.SpiffeId, stored.ParentId, stored.RevisionNumber);
        return stored;
    }

    /// <summary>Deletes the entry; false when there was none.</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is null or empty.</exception>
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var deleted = await _store.DeleteEntryAsync(id, cancellationToken).ConfigureAwait(false);
        if (deleted)
        {
            RegistrationLog.EntryDeleted(_logger, id);
        }

        return deleted;
    }

    /// <summary>One page of the entries matching <paramref name="query"/>, ordered by id.</summary>
    /// <exception cref="EntryValidationException">
    /// The query is invalid (message <c>invalid entry query: ...</c>): <c>pageSize: must be between 1 and 10000</c>,
    /// <c>parentIds[i]: is empty</c>, <c>selector: ...</c>, <c>pageToken: is not valid</c>.
    /// </exception>
    public async Task<EntryPage> ListAsync(EntryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var problems = new List<string>();
        if (query.PageSize is < 1 or > MaxPageSize)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"pageSize: must be between 1 and {MaxPageSize}"));
        }

        if (query.ParentIds is { } parents)
        {
            var i = 0;
            foreach (var parent in parents)
            {
                if (parent.IsEmpty)
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"parentIds[{i}]: is empty"));
                }

                i++;
            }
        }

        if (query.Selector is { } selector && Selector.TryParse(selector.ToString(), out var parsed, out _) is var ok && (!ok || parsed != selector))
        {
            problems.Add("selector: must be type:value without whitespace or control characters");
        }

        if (query.PageToken is { Length: 0 })
        {
            problems.Add("pageToken: is not valid");
        }

        if (problems.Count > 0)
        {
            throw new EntryValidationException("invalid entry query", problems);
        }

        try
        {
            return await _store.ListEntriesAsync(query, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException ex) when (query.PageToken is not null && ex is not ArgumentOutOfRangeException)
        {
            // The store's only other argument checks are covered above: this is the page token.
            throw new EntryValidationException("invalid entry query", ["pageToken: is not valid"]);
        }
    }

    /// <summary>How many entries are stored.</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken) => _store.CountEntriesAsync(cancellationToken);

    /// <summary>A new entry id: 128 random bits as 32 lowercase hex characters.</summary>
    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private async Task<EntryConflictException> ExplainConflictAsync(
        RegistrationEntry entry, bool checkId, DataStoreConflictException conflict, CancellationToken cancellationToken)
    {
        var selectors = entry.Selectors.ToHashSet();
        var query = new EntryQuery { SpiffeId = entry.SpiffeId, ParentIds = [entry.ParentId] };
        while (true)
        {
            var page = await _store.ListEntriesAsync(query, cancellationToken).ConfigureAwait(false);
            foreach (var existing in page.Entries)
            {
                if (existing.Id != entry.Id && selectors.SetEquals(existing.Selectors))
                {
                    return new EntryConflictException(
                        $"an entry with the same spiffe id, parent id and selectors exists: {existing.Id}", existing.Id, conflict);
                }
            }

            if (page.NextPageToken is null)
            {
                break;
            }

            query = query with { PageToken = page.NextPageToken };
        }

        if (checkId && await _store.GetEntryAsync(entry.Id, cancellationToken).ConfigureAwait(false) is not null)
        {
            return new EntryConflictException($"an entry with id \"{entry.Id}\" exists", entry.Id, conflict);
        }

        return new EntryConflictException("entry conflicts with a concurrent change; try again", null, conflict);
    }
}
