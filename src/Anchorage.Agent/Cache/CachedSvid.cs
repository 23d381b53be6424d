using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Cache;

/// <summary>An X.509-SVID the agent holds for an entry, and when to replace it.</summary>
/// <param name="Svid">The SVID with its private key (never leaves the agent except to its workload).</param>
/// <param name="EntryRevision">The entry revision it was issued for; a newer revision re-issues.</param>
/// <param name="RenewAt">Half its lifetime plus jitter: when the agent asks for the next one.</param>
/// <param name="AuthorityIds">Subject key identifiers (hex, lowercase) of the authorities in its chain
/// and the leaf's authority key identifier, matched against tainted authorities.</param>
internal sealed record CachedSvid(X509Svid Svid, long EntryRevision, DateTimeOffset RenewAt, IReadOnlyList<string> AuthorityIds)
{
    /// <summary>When the SVID expires.</summary>
    public DateTimeOffset NotAfter { get; } = new(Svid.Leaf.NotAfter.ToUniversalTime());
}
