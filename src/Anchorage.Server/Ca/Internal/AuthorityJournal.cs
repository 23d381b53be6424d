using System.Text;
using Anchorage.Server.DataStore;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// This server's last read of the datastore's authority journal (every server's authorities): the
/// source of truth, re-read by every operation and rotation check. Notes when the journal changed
/// in a way the bundle does not show (an activation, a taint) so listeners can be told.
/// </summary>
internal sealed class AuthorityJournal(CaContext ca)
{
    private IReadOnlyList<AuthorityRecord> _records = [];
    private string _fingerprint = string.Empty;
    private int _changed;

    /// <summary>Every record as last read.</summary>
    public IReadOnlyList<AuthorityRecord> Records => _records;

    /// <summary>Oldest first: by issue time, then notAfter, then id.</summary>
    public static IEnumerable<AuthorityRecord> OldestFirst(IEnumerable<AuthorityRecord> records) =>
        records.OrderBy(RotationPlanner.IssuedAt).ThenBy(a => a.NotAfter).ThenBy(a => a.Id, StringComparer.Ordinal);

    /// <summary>The record in <paramref name="state"/> that lives longest; null when none.</summary>
    public static AuthorityRecord? Latest(IEnumerable<AuthorityRecord> records, AuthorityState state) =>
        records.Where(a => a.State == state).MaxBy(a => a.NotAfter);

    public async Task ReadAsync(CancellationToken cancellationToken) =>
        _records = await ca.Store.ListAuthoritiesAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Compares the records now with those at the last note; a change (not the first read) is kept for <see cref="TakeChanged"/>.</summary>
    public void NoteChanges()
    {
        var fingerprint = Fingerprint(_records);
        if (!string.Equals(fingerprint, _fingerprint, StringComparison.Ordinal))
        {
            if (_fingerprint.Length > 0)
            {
                Volatile.Write(ref _changed, 1);
            }

            _fingerprint = fingerprint;
        }
    }

    /// <summary>True once after a noted change.</summary>
    public bool TakeChanged() => Interlocked.Exchange(ref _changed, 0) != 0;

    /// <summary>This server's records of <paramref name="kind"/> (those with a sane validity window: the planner rejects others).</summary>
    public List<AuthorityRecord> Mine(AuthorityKind kind) =>
        [.. _records.Where(a => a.Kind == kind && ca.IsMine(a) && a.NotAfter > a.NotBefore)];

    /// <exception cref="DataStoreNotFoundException">No record of <paramref name="kind"/> has the id.</exception>
    public AuthorityRecord Find(AuthorityKind kind, string id) =>
        _records.FirstOrDefault(a => a.Kind == kind && string.Equals(a.Id, id, StringComparison.Ordinal))
        ?? throw new DataStoreNotFoundException($"{CaContext.Name(kind)} authority \"{id}\" not found");

    private static string Fingerprint(IReadOnlyList<AuthorityRecord> journal)
    {
        var text = new StringBuilder();
        foreach (var a in journal.OrderBy(a => a.Kind).ThenBy(a => a.Id, StringComparer.Ordinal))
        {
            text.Append(CaContext.Name(a.Kind)).Append(' ').Append(a.Id).Append(' ').Append(a.ServerId).Append(' ').Append(a.State).Append(' ').Append(a.Tainted).Append('\n');
        }

        return text.ToString();
    }
}
