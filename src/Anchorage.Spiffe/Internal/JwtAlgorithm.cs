using System.Diagnostics.CodeAnalysis;
using System.Formats.Asn1;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// The JWS algorithms JWT-SVID §2.1 allows (RFC 7518 §3.3-3.5) and what key each needs.
/// </summary>
internal static class JwtAlgorithm
{
    internal const string P256Oid = "1.2.840.10045.3.1.7";
    internal const string P384Oid = "1.3.132.0.34";
    internal const string P521Oid = "1.3.132.0.35";

    private static readonly Info[] All =
    [
        new("RS256", KeyFamily.RsaPkcs1, HashAlgorithmName.SHA256, null, 0),
        new("RS384", KeyFamily.RsaPkcs1, HashAlgorithmName.SHA384, null, 0),
        new("RS512", KeyFamily.RsaPkcs1, HashAlgorithmName.SHA512, null, 0),
        new("ES256", KeyFamily.Ec, HashAlgorithmName.SHA256, P256Oid, 64),
        new("ES384", KeyFamily.Ec, HashAlgorithmName.SHA384, P384Oid, 96),
        new("ES512", KeyFamily.Ec, HashAlgorithmName.SHA512, P521Oid, 132),
        new("PS256", KeyFamily.RsaPss, HashAlgorithmName.SHA256, null, 0),
        new("PS384", KeyFamily.RsaPss, HashAlgorithmName.SHA384, null, 0),
        new("PS512", KeyFamily.RsaPss, HashAlgorithmName.SHA512, null, 0),
    ];

    /// <summary>Facts about an authority's key, computed once per authority.</summary>
    private static readonly ConditionalWeakTable<JwtAuthority, KeyFacts> Facts = new();

    internal enum KeyFamily
    {
        RsaPkcs1,
        RsaPss,
        Ec,
    }

    /// <summary>Finds an allowed algorithm by its exact (case-sensitive, RFC 7515 §4.1.1) name.</summary>
    internal static bool TryGet(ReadOnlySpan<char> name, [NotNullWhen(true)] out Info? info)
    {
        foreach (var candidate in All)
        {
            if (name.SequenceEqual(candidate.Name))
            {
                info = candidate;
                return true;
            }
        }

        info = null;
        return false;
    }

    internal static Info Get(string name) =>
        TryGet(name, out var info) ? info : throw new InvalidOperationException("unreachable: algorithm was validated");

    internal static string? CurveOidFor(string algorithm) => Get(algorithm).CurveOid;

    /// <summary>The named-curve OID in an EC SubjectPublicKeyInfo, or null when it has none.</summary>
    internal static string? ReadNamedCurveOid(ReadOnlySpan<byte> spki)
    {
        try
        {
            var reader = new AsnReader(spki.ToArray(), AsnEncodingRules.DER);
            var info = reader.ReadSequence();
            var algorithm = info.ReadSequence();
            _ = algorithm.ReadObjectIdentifier();
            return algorithm.HasData && algorithm.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier)
                ? algorithm.ReadObjectIdentifier()
                : null;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>Why <paramref name="authority"/> cannot verify <paramref name="info"/>, or null when it can.</summary>
    internal static string? Misfit(JwtAuthority authority, Info info)
    {
        var facts = Facts.GetValue(authority, static a => KeyFacts.Of(a));
        if (info.Family == KeyFamily.Ec)
        {
            return facts.CurveOid is not null && facts.CurveOid == info.CurveOid
                ? null
                : $"key \"{TrustDomainPrintable(authority.KeyId)}\" does not fit alg {info.Name}";
        }

        if (facts.RsaBits == 0)
        {
            return $"key \"{TrustDomainPrintable(authority.KeyId)}\" does not fit alg {info.Name}";
        }

        return facts.RsaBits < Svids.JwtSigningKey.MinimumRsaKeySize
            ? $"key \"{TrustDomainPrintable(authority.KeyId)}\" is a {facts.RsaBits}-bit rsa key; at least {Svids.JwtSigningKey.MinimumRsaKeySize} bits are required"
            : null;
    }

    private static string TrustDomainPrintable(string s) => Ids.TrustDomain.Printable(s);

    internal sealed record Info(string Name, KeyFamily Family, HashAlgorithmName Hash, string? CurveOid, int EcSignatureLength);

    private sealed class KeyFacts
    {
        public string? CurveOid { get; private init; }

        public int RsaBits { get; private init; }

        public static KeyFacts Of(JwtAuthority authority)
        {
            if (authority.Ecdsa is not null)
            {
                return new KeyFacts { CurveOid = ReadNamedCurveOid(authority.SubjectPublicKeyInfo.Span) };
            }

            return new KeyFacts { RsaBits = authority.Rsa?.KeySize ?? 0 };
        }
    }
}
