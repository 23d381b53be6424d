using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca.Internal;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca;

/// <summary>
/// An upstream CA that signs this server's X.509 authorities (SPIRE's "disk" UpstreamAuthority):
/// its certificate and key, the intermediates between it and the upstream root, and the upstream
/// roots (the trust bundle). Owns its key and certificates.
/// </summary>
public sealed class UpstreamAuthority : IDisposable
{
    /// <summary>Wraps an upstream CA after checking it.</summary>
    /// <param name="certificate">The upstream CA certificate: cA=TRUE with keyCertSign.</param>
    /// <param name="privateKey">Its key: EC P-256/P-384 or RSA &gt;= 2048 bits.</param>
    /// <param name="intermediates">Certificates between it and a root, nearest first (may be empty).</param>
    /// <param name="roots">The upstream roots; the certificate must chain to one of them at <paramref name="at"/>.</param>
    /// <param name="at">The time the chain is checked at.</param>
    /// <exception cref="ArgumentException">The certificate is not a CA, the key does not match, or the chain does not verify.</exception>
    public UpstreamAuthority(
        X509Certificate2 certificate,
        AsymmetricAlgorithm privateKey,
        IEnumerable<X509Certificate2> intermediates,
        IEnumerable<X509Certificate2> roots,
        DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(privateKey);
        ArgumentNullException.ThrowIfNull(intermediates);
        ArgumentNullException.ThrowIfNull(roots);
        var basic = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        var usage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (basic is null || !basic.CertificateAuthority || (usage is not null && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0))
        {
            throw new ArgumentException("upstream certificate is not a ca with keyCertSign", nameof(certificate));
        }

        if (!certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(privateKey.ExportSubjectPublicKeyInfo()))
        {
            throw new ArgumentException("upstream key does not match the upstream certificate", nameof(privateKey));
        }

        Signer = CaSigner.For(privateKey, nameof(privateKey));
        Roots = [.. roots];
        if (Roots.IsEmpty)
        {
            throw new ArgumentException("upstream bundle holds no certificates", nameof(roots));
        }

        // The upstream CA itself may be one of the roots; then nothing is presented above this server's CA.
        var isRoot = Roots.Any(r => r.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span));
        Intermediates = [.. intermediates.Where(c => !Roots.Any(r => r.RawDataMemory.Span.SequenceEqual(c.RawDataMemory.Span)))];
        Chain = isRoot ? [] : [certificate, .. Intermediates];

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = at.UtcDateTime;
        chain.ChainPolicy.CustomTrustStore.AddRange(Roots.ToArray());
        chain.ChainPolicy.ExtraStore.AddRange(Intermediates.ToArray());
        if (!chain.Build(certificate))
        {
            var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()));
            throw new ArgumentException($"upstream certificate does not chain to the upstream bundle ({status})", nameof(certificate));
        }

        Certificate = certificate;
        PrivateKey = privateKey;
    }

    /// <summary>The upstream CA certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The upstream CA key.</summary>
    public AsymmetricAlgorithm PrivateKey { get; }

    /// <summary>Certificates between the upstream CA and a root, nearest first.</summary>
    public ImmutableArray<X509Certificate2> Intermediates { get; }

    /// <summary>What this server presents above its own CA: the upstream CA and the intermediates, unless the upstream CA is a root.</summary>
    public ImmutableArray<X509Certificate2> Chain { get; }

    /// <summary>The upstream roots (the X.509 authorities of the trust bundle).</summary>
    public ImmutableArray<X509Certificate2> Roots { get; }

    /// <summary>The end of the upstream CA's validity; a CA it signs never outlives it.</summary>
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    internal CaSigner Signer { get; }

    /// <summary>
    /// Loads the disk upstream authority: <paramref name="certificateFile"/> (PEM: the upstream CA
    /// first, then intermediates), <paramref name="keyFile"/> (PEM private key, PKCS#8, SEC1 or PKCS#1)
    /// and <paramref name="bundleFile"/> (PEM: the upstream roots).
    /// </summary>
    /// <exception cref="FormatException">A file holds no certificate or no usable key.</exception>
    /// <exception cref="ArgumentException">See the constructor.</exception>
    public static UpstreamAuthority Load(string certificateFile, string keyFile, string bundleFile, TimeProvider? timeProvider = null)
    {
        var certificates = LoadCertificates(certificateFile);
        var roots = LoadCertificates(bundleFile);
        var key = ReadKey(File.ReadAllText(keyFile));
        return new UpstreamAuthority(certificates[0], key, certificates.Skip(1), roots, (timeProvider ?? TimeProvider.System).GetUtcNow());
    }

    private static List<X509Certificate2> LoadCertificates(string file)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(file);
        }
        catch (CryptographicException ex)
        {
            throw new FormatException($"{file} is not a PEM certificate file", ex);
        }

        return collection.Count == 0 ? throw new FormatException($"{file} holds no certificate") : [.. collection];
    }

    private static AsymmetricAlgorithm ReadKey(string pem)
    {
        try
        {
            return PrivateKeys.ParsePem(pem);
        }
        catch (FormatException e)
        {
            throw new FormatException($"upstream key file: {e.Message}", e);
        }
    }

    /// <summary>Disposes the key and the certificates.</summary>
    public void Dispose()
    {
        PrivateKey.Dispose();
        Certificate.Dispose();
        foreach (var c in Intermediates)
        {
            c.Dispose();
        }

        foreach (var c in Roots)
        {
            c.Dispose();
        }
    }
}
