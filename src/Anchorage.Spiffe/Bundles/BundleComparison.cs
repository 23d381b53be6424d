using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// What changed between two bundles of one trust domain (the stored one and a fetched or newly
/// published one), with each authority named for logs and audit records.
/// </summary>
public static class BundleComparison
{
    private const int MaxKeyIdLength = 128;

    /// <summary>
    /// Authorities in <paramref name="next"/> and not in <paramref name="current"/> (added) and the
    /// reverse (removed). X.509 authorities are the same when their DER is; JWT authorities when their
    /// kid and key are.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="next"/> is null.</exception>
    public static (IReadOnlyList<string> Added, IReadOnlyList<string> Removed) Diff(SpiffeBundle? current, SpiffeBundle next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var added = new List<string>();
        var removed = new List<string>();
        var before = current?.X509Authorities ?? [];
        var beforeJwt = current?.JwtAuthorities ?? [];
        added.AddRange(next.X509Authorities.Where(c => !ContainsCertificate(before, c)).Select(AuthorityName));
        added.AddRange(next.JwtAuthorities.Where(a => !beforeJwt.Any(b => b.KeyId == a.KeyId && b.SameAs(a))).Select(a => AuthorityName(a.KeyId)));
        removed.AddRange(before.Where(c => !ContainsCertificate(next.X509Authorities, c)).Select(AuthorityName));
        removed.AddRange(beforeJwt.Where(b => !next.JwtAuthorities.Any(a => a.KeyId == b.KeyId && a.SameAs(b))).Select(b => AuthorityName(b.KeyId)));
        return (added, removed);
    }

    /// <summary>True when both bundles say the same: sequence, refresh hint and authorities.</summary>
    internal static bool SameContent(SpiffeBundle current, SpiffeBundle next, IReadOnlyList<string> added, IReadOnlyList<string> removed) =>
        current.SequenceNumber == next.SequenceNumber &&
        current.RefreshHint == next.RefreshHint &&
        added.Count == 0 && removed.Count == 0;

    /// <summary>An X.509 authority's name: its subject key identifier in lowercase hex, else the SHA-256 of its DER.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="certificate"/> is null.</exception>
    public static string AuthorityName(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectKeyIdentifierExtension { SubjectKeyIdentifierBytes.Length: > 0 } ski)
            {
                return Convert.ToHexStringLower(ski.SubjectKeyIdentifierBytes.Span);
            }
        }

        return Convert.ToHexStringLower(SHA256.HashData(certificate.RawDataMemory.Span));
    }

    /// <summary>A JWT authority's name: its kid, with control characters escaped and length bounded (it comes from the peer).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="keyId"/> is null.</exception>
    public static string AuthorityName(string keyId)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        var builder = new StringBuilder(Math.Min(keyId.Length, MaxKeyIdLength) + 8);
        foreach (var c in keyId.Length > MaxKeyIdLength ? keyId[..MaxKeyIdLength] : keyId)
        {
            if (char.IsControl(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return keyId.Length > MaxKeyIdLength ? builder.Append("...").ToString() : builder.ToString();
    }

    private static bool ContainsCertificate(IEnumerable<X509Certificate2> certificates, X509Certificate2 certificate) =>
        certificates.Any(c => c.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span));
}
