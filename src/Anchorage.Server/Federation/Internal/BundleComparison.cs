using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Federation.Internal;

/// <summary>What changed between the stored bundle and a fetched one, named for logs and audit.</summary>
internal static class BundleComparison
{
    private const int MaxKeyIdLength = 128;

    /// <summary>
    /// Authorities in <paramref name="next"/> and not in <paramref name="current"/> (added) and the
    /// reverse (removed). X.509 authorities are the same when their DER is; JWT authorities when their
    /// kid and key are.
    /// </summary>
    public static (List<string> Added, List<string> Removed) Diff(SpiffeBundle? current, SpiffeBundle next)
    {
        var added = new List<string>();
        var removed = new List<string>();
        var before = current?.X509Authorities ?? [];
        var beforeJwt = current?.JwtAuthorities ?? [];
        added.AddRange(next.X509Authorities.Where(c => !ContainsCertificate(before, c)).Select(Name));
        added.AddRange(next.JwtAuthorities.Where(a => !beforeJwt.Any(b => b.KeyId == a.KeyId && b.SameAs(a))).Select(a => Name(a.KeyId)));
        removed.AddRange(before.Where(c => !ContainsCertificate(next.X509Authorities, c)).Select(Name));
        removed.AddRange(beforeJwt.Where(b => !next.JwtAuthorities.Any(a => a.KeyId == b.KeyId && a.SameAs(b))).Select(b => Name(b.KeyId)));
        return (added, removed);
    }

    /// <summary>True when both bundles say the same: sequence, refresh hint and authorities.</summary>
    public static bool SameContent(SpiffeBundle current, SpiffeBundle next, List<string> added, List<string> removed) =>
        current.SequenceNumber == next.SequenceNumber &&
        current.RefreshHint == next.RefreshHint &&
        added.Count == 0 && removed.Count == 0;

    /// <summary>An X.509 authority's name: its subject key identifier in lowercase hex, else the SHA-256 of its DER.</summary>
    public static string Name(X509Certificate2 certificate)
    {
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
    public static string Name(string keyId)
    {
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
