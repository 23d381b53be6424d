using System.Globalization;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Internal;

/// <summary>The X509-SVID rules shared by loading (<c>X509Svid</c>) and verification (<c>X509SvidVerifier</c>).</summary>
internal static class X509SvidRules
{
    internal const string Leaf = "leaf certificate";

    internal static string Intermediate(int index) =>
        "intermediate certificate " + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Checks the leaf rules and returns its SPIFFE ID: exactly one URI SAN holding a SPIFFE ID
    /// (X509-SVID §2) with a non-root path (§3.1, §5.2); <c>cA=false</c> (§4.1, §5.2); a key usage
    /// extension (§4.3) with <c>digitalSignature</c> and neither <c>keyCertSign</c> nor
    /// <c>cRLSign</c> (§4.3, §5.2); no critical extension it does not understand (RFC 5280 §4.2).
    /// </summary>
    /// <exception cref="SvidValidationException">A rule is broken; the message names it.</exception>
    internal static SpiffeId CheckLeaf(X509CertificateInfo leaf)
    {
        if (leaf.UriSans.Count == 0)
        {
            throw new SvidValidationException("leaf certificate has no URI SAN");
        }

        if (leaf.UriSans.Count > 1)
        {
            throw new SvidValidationException(
                $"leaf certificate has {leaf.UriSans.Count.ToString(CultureInfo.InvariantCulture)} URI SANs; exactly one is allowed");
        }

        if (!SpiffeId.TryParse(leaf.UriSans[0], out var id, out var error))
        {
            throw new SvidValidationException($"leaf certificate URI SAN is not a valid SPIFFE ID: {error}");
        }

        if (id.Path.Length == 0)
        {
            throw new SvidValidationException("leaf certificate SPIFFE ID must have a path");
        }

        if (leaf.IsCa)
        {
            throw new SvidValidationException("leaf certificate must not be a CA");
        }

        if (!leaf.HasKeyUsage)
        {
            throw new SvidValidationException("leaf certificate has no key usage extension");
        }

        if ((leaf.KeyUsage & KeyUsageBits.DigitalSignature) == 0)
        {
            throw new SvidValidationException("leaf certificate key usage lacks digitalSignature");
        }

        if ((leaf.KeyUsage & KeyUsageBits.KeyCertSign) != 0)
        {
            throw new SvidValidationException("leaf certificate must not have keyCertSign key usage");
        }

        if ((leaf.KeyUsage & KeyUsageBits.CrlSign) != 0)
        {
            throw new SvidValidationException("leaf certificate must not have cRLSign key usage");
        }

        CheckCriticalExtensions(leaf, Leaf);
        return id;
    }

    /// <summary>
    /// A signing certificate sets <c>cA=true</c> (X509-SVID §3.2, §4.1) and <c>keyCertSign</c>
    /// (§4.3); <paramref name="what"/> names it in the message.
    /// </summary>
    /// <returns>The broken rule, or null.</returns>
    internal static string? SigningCertificateError(X509CertificateInfo certificate, string what)
    {
        if (!certificate.IsCa)
        {
            return what + " must be a CA";
        }

        if (!certificate.HasKeyUsage || (certificate.KeyUsage & KeyUsageBits.KeyCertSign) == 0)
        {
            return what + " has no keyCertSign key usage";
        }

        return certificate.UnsupportedCriticalExtension is { } oid
            ? $"{what} has unsupported critical extension {oid}"
            : null;
    }

    internal static void CheckCriticalExtensions(X509CertificateInfo certificate, string what)
    {
        if (certificate.UnsupportedCriticalExtension is { } oid)
        {
            throw new SvidValidationException($"{what} has unsupported critical extension {oid}");
        }
    }

    /// <summary>RFC 5280 §6.1.3 (a)(2): the validity window, inclusive at both ends.</summary>
    /// <returns>The broken rule, or null.</returns>
    internal static string? ValidityError(X509CertificateInfo certificate, string what, DateTimeOffset at)
    {
        if (at < certificate.NotBefore)
        {
            return $"{what} is not valid before {Format(certificate.NotBefore)}";
        }

        return at > certificate.NotAfter ? $"{what} expired at {Format(certificate.NotAfter)}" : null;
    }

    internal static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
