using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Testing.Bundles;

/// <summary>Key kinds the bundle tests use.</summary>
public enum TestKeyKind
{
    P256,
    P384,
    P521,
    Rsa2048,
    Rsa3072,
}

/// <summary>
/// Builds X.509 authorities (self-signed CA certificates with a SPIFFE ID) and JWT authorities in
/// code. Keys are cached per (kind, slot) so property tests do not pay for RSA key generation each run.
/// </summary>
public static class TestAuthorities
{
    private static readonly ConcurrentDictionary<(TestKeyKind, int), AsymmetricAlgorithm> Keys = new();
    private static readonly ConcurrentDictionary<(TestKeyKind, int, string), X509Certificate2> Cas = new();

    /// <summary>A private key of <paramref name="kind"/>; the same object for the same slot.</summary>
    public static AsymmetricAlgorithm Key(TestKeyKind kind, int slot = 0) =>
        Keys.GetOrAdd((kind, slot), static k => NewKey(k.Item1));

    /// <summary>A fresh private key of <paramref name="kind"/>.</summary>
    public static AsymmetricAlgorithm NewKey(TestKeyKind kind) => kind switch
    {
        TestKeyKind.P256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        TestKeyKind.P384 => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        TestKeyKind.P521 => ECDsa.Create(ECCurve.NamedCurves.nistP521),
        TestKeyKind.Rsa2048 => RSA.Create(2048),
        TestKeyKind.Rsa3072 => RSA.Create(3072),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>A self-signed CA certificate (public part only) for <paramref name="trustDomain"/>; cached per slot.</summary>
    public static X509Certificate2 Ca(string trustDomain, TestKeyKind kind = TestKeyKind.P256, int slot = 0) =>
        Cas.GetOrAdd((kind, slot, trustDomain), static k => CreateCa(k.Item3, Key(k.Item1, k.Item2)));

    /// <summary>A new self-signed CA certificate (public part only) over <paramref name="key"/>.</summary>
    public static X509Certificate2 CreateCa(string trustDomain, AsymmetricAlgorithm key)
    {
        var subject = new X500DistinguishedName($"O={trustDomain}, CN=test ca {Guid.NewGuid():N}");
        CertificateRequest request = key switch
        {
            ECDsa ec => new CertificateRequest(subject, ec, HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("unsupported key", nameof(key)),
        };
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri($"spiffe://{trustDomain}"));
        request.CertificateExtensions.Add(san.Build(true));
        var notBefore = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var withKey = request.CreateSelfSigned(notBefore, notBefore.AddYears(5));
        return X509CertificateLoader.LoadCertificate(withKey.RawData);
    }

    /// <summary>A JWT authority over the cached key of (<paramref name="kind"/>, <paramref name="slot"/>).</summary>
    public static JwtAuthority Jwt(string keyId, TestKeyKind kind = TestKeyKind.P256, int slot = 0) =>
        JwtAuthority.FromKey(keyId, Key(kind, slot));
}
