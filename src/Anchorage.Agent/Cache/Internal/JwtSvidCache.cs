using Anchorage.Agent.Internal;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Cache.Internal;

/// <summary>
/// Minted JWT-SVIDs by (entry, audience), reused until half their lifetime has passed. Bounded:
/// at most <c>capacity</c> tokens; a token past its reuse time is dropped when met, and when the
/// cache is full the expired ones go first, then the least recently used.
/// </summary>
internal sealed class JwtSvidCache(int capacity, TimeProvider time)
{
    private readonly ExpiringLruCache<(string EntryId, string Audience), JwtSvid> _tokens = new(capacity, time);

    /// <summary>Tokens held now.</summary>
    public int Count => _tokens.Count;

    /// <summary>The token for <paramref name="entryId"/> and <paramref name="audience"/> while it may be reused.</summary>
    public JwtSvid? TryGet(string entryId, string audience)
    {
        if (!_tokens.TryGet((entryId, audience), out var svid, out var reuseUntil))
        {
            return null;
        }

        if (time.GetUtcNow() >= reuseUntil)
        {
            _tokens.Remove((entryId, audience), svid);
            return null;
        }

        return svid;
    }

    /// <summary>Keeps <paramref name="svid"/>; a token that may not be reused at all is not kept.</summary>
    public void Add(string entryId, string audience, JwtSvid svid)
    {
        var now = time.GetUtcNow();
        var reuseUntil = svid.IssuedAt is { } issued ? issued + ((svid.Expiry - issued) / 2) : now;
        if (reuseUntil > now)
        {
            _tokens.Set((entryId, audience), svid, reuseUntil);
        }
    }

    /// <summary>Drops every token of an entry that <paramref name="keep"/> rejects.</summary>
    public void RemoveEntries(Func<string, bool> keep) => _tokens.RemoveWhere(key => !keep(key.EntryId));

    /// <summary>Drops everything.</summary>
    public void Clear() => _tokens.Clear();
}
