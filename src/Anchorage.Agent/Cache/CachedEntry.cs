using System.Collections.Frozen;
using Anchorage.Protos.Common.V1;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Cache;

/// <summary>A registration entry this node may hold, as the cache matches it against workloads.</summary>
internal sealed class CachedEntry
{
    private CachedEntry(Entry proto, SpiffeId id, FrozenSet<string> selectors, IReadOnlyList<TrustDomain> federatesWith)
    {
        Proto = proto;
        Id = id;
        Selectors = selectors;
        FederatesWith = federatesWith;
    }

    /// <summary>The entry as the server sent it.</summary>
    public Entry Proto { get; }

    /// <summary>The entry's id.</summary>
    public string EntryId => Proto.Id;

    /// <summary>The SPIFFE ID a matching workload gets.</summary>
    public SpiffeId Id { get; }

    /// <summary>The entry's selectors as <c>type:value</c>; a workload must have every one.</summary>
    public FrozenSet<string> Selectors { get; }

    /// <summary>The trust domains whose bundles a matching workload also receives.</summary>
    public IReadOnlyList<TrustDomain> FederatesWith { get; }

    /// <summary>The entry's revision; a new one means a new SVID.</summary>
    public long Revision => Proto.RevisionNumber;

    /// <summary>Reads an entry from the server; null (and a reason) when it is unusable.</summary>
    public static CachedEntry? From(Entry proto, out string? problem)
    {
        problem = null;
        if (!SpiffeId.TryParse(proto.SpiffeId, out var id))
        {
            problem = $"spiffe id \"{proto.SpiffeId}\" is not valid";
            return null;
        }

        if (proto.Selectors.Count == 0)
        {
            problem = "it has no selectors";
            return null;
        }

        var federates = new List<TrustDomain>();
        foreach (var name in proto.FederatesWith)
        {
            // The server stores trust domain names; accept a spiffe://<td> form as well.
            var text = name.StartsWith("spiffe://", StringComparison.Ordinal) ? name["spiffe://".Length..] : name;
            if (!TrustDomain.TryParse(text, out var td))
            {
                problem = $"federatesWith \"{name}\" is not a trust domain";
                return null;
            }

            federates.Add(td);
        }

        var selectors = proto.Selectors.Select(s => s.Type + ":" + s.Value).ToFrozenSet(StringComparer.Ordinal);
        return new CachedEntry(proto, id, selectors, federates);
    }

    /// <summary>True when a workload with <paramref name="workloadSelectors"/> has every selector of this entry.</summary>
    public bool Matches(IReadOnlySet<string> workloadSelectors)
    {
        foreach (var selector in Selectors)
        {
            if (!workloadSelectors.Contains(selector))
            {
                return false;
            }
        }

        return true;
    }
}
