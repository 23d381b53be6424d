using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Cache;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// Writes a <see cref="AuditKinds.Bundle"/> record whenever the agent's view of a trust domain's
/// bundle changes: <c>added</c>, <c>updated</c> (sequence or X.509 authorities changed) or
/// <c>removed</c>, with the sequence number and the X.509 authorities added and removed
/// (subject key identifiers, hex lowercase; the SHA-256 of the certificate when it has none).
/// </summary>
internal sealed class BundleAuditor(IAuditSink audit, TimeProvider time)
{
    private Dictionary<TrustDomain, SpiffeBundle> _seen = [];

    /// <summary>Compares <paramref name="state"/> with the previous state observed and audits the differences.</summary>
    public void Observe(CacheState state)
    {
        var now = new Dictionary<TrustDomain, SpiffeBundle>();
        if (state.OwnBundle is { } own)
        {
            now[own.TrustDomain] = own;
        }

        foreach (var (td, bundle) in state.Federated)
        {
            now.TryAdd(td, bundle);
        }

        foreach (var (td, bundle) in now.OrderBy(p => p.Key.Name, StringComparer.Ordinal))
        {
            var after = Authorities(bundle);
            if (!_seen.TryGetValue(td, out var previous))
            {
                Write("added", td, bundle.SequenceNumber, after, []);
                continue;
            }

            var before = Authorities(previous);
            var added = after.Except(before, StringComparer.Ordinal).ToArray();
            var removed = before.Except(after, StringComparer.Ordinal).ToArray();
            if (added.Length > 0 || removed.Length > 0 || previous.SequenceNumber != bundle.SequenceNumber)
            {
                Write("updated", td, bundle.SequenceNumber, added, removed);
            }
        }

        foreach (var (td, previous) in _seen.OrderBy(p => p.Key.Name, StringComparer.Ordinal))
        {
            if (!now.ContainsKey(td))
            {
                Write("removed", td, previous.SequenceNumber, [], Authorities(previous));
            }
        }

        _seen = now;
    }

    private void Write(string what, TrustDomain td, ulong? sequence, string[] added, string[] removed) =>
        audit.Write(new AuditRecord
        {
            Time = time.GetUtcNow(),
            Kind = AuditKinds.Bundle,
            Decision = what,
            TrustDomain = td.Name,
            Sequence = sequence is { } s ? (long)s : null,
            AuthoritiesAdded = added.Length > 0 ? added : null,
            AuthoritiesRemoved = removed.Length > 0 ? removed : null,
        });

    private static string[] Authorities(SpiffeBundle bundle) =>
        [.. bundle.X509Authorities.Select(KeyId).Order(StringComparer.Ordinal)];

    private static string KeyId(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectKeyIdentifierExtension { SubjectKeyIdentifier: { } ski })
            {
                return ski.ToLowerInvariant();
            }
        }

        return Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
    }
}
