using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Attestation;

/// <summary>
/// The entries one agent may hold (see <see cref="AuthorizedEntries"/>), with what is needed to tell
/// whether a later entry change can alter them.
/// </summary>
public sealed class AuthorizedEntrySet
{
    private readonly IReadOnlySet<Selector> _nodeSelectors;
    private readonly IReadOnlySet<string> _aliasEntryIds;
    private readonly IReadOnlySet<SpiffeId> _parentIds;
    private readonly HashSet<string> _entryIds;
    private readonly SpiffeId _serverId;

    internal AuthorizedEntrySet(
        SpiffeId agentId,
        IReadOnlySet<Selector> nodeSelectors,
        ImmutableArray<SpiffeId> aliasIds,
        IReadOnlySet<string> aliasEntryIds,
        ImmutableArray<RegistrationEntry> entries,
        IReadOnlySet<SpiffeId> parentIds,
        SpiffeId serverId)
    {
        AgentId = agentId;
        _nodeSelectors = nodeSelectors;
        AliasIds = aliasIds;
        _aliasEntryIds = aliasEntryIds;
        Entries = entries;
        _parentIds = parentIds;
        _serverId = serverId;
        _entryIds = new HashSet<string>(entries.Select(e => e.Id), StringComparer.Ordinal);
    }

    /// <summary>The agent.</summary>
    public SpiffeId AgentId { get; }

    /// <summary>The agent's aliases (SPIFFE IDs of matching node-alias entries), ordered.</summary>
    public ImmutableArray<SpiffeId> AliasIds { get; }

    /// <summary>The entries the agent may hold, ordered by id; node-alias entries are not among them.</summary>
    public ImmutableArray<RegistrationEntry> Entries { get; }

    /// <summary>True when the entry with id <paramref name="entryId"/> is in <see cref="Entries"/>.</summary>
    public bool Contains(string entryId) => _entryIds.Contains(entryId);

    /// <summary>
    /// False when the created or updated <paramref name="entry"/> certainly leaves this set unchanged;
    /// true when it may change it (then compute the set again).
    /// </summary>
    /// <remarks>
    /// It may change the set when: its old version is in the set or was an alias of the agent (whatever it became); its parent may parent
    /// authorized entries (the agent, an alias, or an authorized entry above the depth bound); or it
    /// is a node-alias entry that was, or now is, an alias of the agent. Otherwise neither it nor
    /// anything below it was or becomes reachable. For a batch of changes, the set is unchanged when
    /// no change affects it.
    /// </remarks>
    public bool IsAffectedBy(RegistrationEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        // Its old version mattered (held, or an alias of the agent), whatever the new one is.
        if (_entryIds.Contains(entry.Id) || _aliasEntryIds.Contains(entry.Id))
        {
            return true;
        }

        return entry.ParentId == _serverId
            ? entry.Selectors.All(_nodeSelectors.Contains)
            : _parentIds.Contains(entry.ParentId);
    }

    /// <summary>False when deleting the entry <paramref name="entryId"/> certainly leaves this set unchanged.</summary>
    public bool IsAffectedByDeletion(string entryId)
    {
        ArgumentException.ThrowIfNullOrEmpty(entryId);
        return _entryIds.Contains(entryId) || _aliasEntryIds.Contains(entryId);
    }

    /// <summary>False when none of <paramref name="changes"/> can change this set.</summary>
    public bool IsAffectedBy(EntryChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return changes.Upserted.Any(IsAffectedBy) || changes.DeletedIds.Any(IsAffectedByDeletion);
    }
}
