using System.Collections.Immutable;
using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Cache.Internal;

/// <summary>
/// Which federated bundle sequences the agent holds, for the server's enforcement map (issue 15 item
/// 4): <see cref="Changed"/> gives the rows to report when they differ from the last accepted report,
/// so an unchanged set costs nothing at each sync.
/// </summary>
internal sealed class HeldBundleReport
{
    private string? _accepted;

    /// <summary>The rows for <paramref name="federated"/> and a key to pass to <see cref="Accept"/>; null when the server already has them.</summary>
    public (List<HeldBundle> Rows, string Key)? Changed(ImmutableDictionary<TrustDomain, SpiffeBundle> federated)
    {
        var rows = federated
            .OrderBy(kv => kv.Key.Name, StringComparer.Ordinal)
            .Select(kv => new HeldBundle { TrustDomain = kv.Key.Name, Sequence = kv.Value.SequenceNumber ?? 0 })
            .ToList();
        var key = string.Join(",", rows.Select(r => r.TrustDomain + "=" + r.Sequence));
        return key == _accepted ? null : (rows, key);
    }

    /// <summary>The server stored the report made with <paramref name="key"/>.</summary>
    public void Accept(string key) => _accepted = key;
}
