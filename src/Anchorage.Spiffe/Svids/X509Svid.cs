using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Svids;

/// <summary>
/// An X.509-SVID (X509-SVID §1-§4): a leaf certificate naming one SPIFFE ID, the intermediates
/// that chain it to its trust domain's authorities, and the leaf's private key. Every instance
/// obeys the X509-SVID rules for leaf and signing certificates; they are checked on creation.
/// Loading does not verify signatures or validity windows: use <see cref="X509SvidVerifier"/>.
/// </summary>
public sealed class X509Svid : IX509SvidSource
{
    private static readonly byte[] KeyProbe = "anchorage x509-svid key match probe"u8.ToArray();

    /// <summary>Creates an SVID from certificates (leaf first) and the leaf's private key.</summary>
    /// <param name="certificates">The leaf, then the intermediates up to (not including) an authority.</param>
    /// <param name="privateKey">An <see cref="ECDsa"/> or <see cref="RSA"/> private key.</param>
    /// <param name="hint">The Workload API hint, when the SVID came with one.</param>
    /// <exception cref="ArgumentException">No certificates, or the key is neither ECDsa nor RSA.</exception>
    /// <exception cref="FormatException">A certificate cannot be read.</exception>
    /// <exception cref="SvidValidationException">
    /// A rule is broken: the leaf rules of X509-SVID §2, §3.1, §4.1, §4.3; an intermediate that is not a
    /// CA with <c>keyCertSign</c> (§4.1, §4.3); or a key that does not match the leaf.
    /// </exception>
    public X509Svid(IEnumerable<X509Certificate2> certificates, AsymmetricAlgorithm privateKey, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        ArgumentNullException.ThrowIfNull(privateKey);
        var chain = certificates.ToImmutableArray();
        if (chain.IsEmpty)
        {
            throw new ArgumentException("at least one certificate (the leaf) is required", nameof(certificates));
        }

        if (privateKey is not (ECDsa or RSA))
        {
            throw new ArgumentException("the private key must be an ECDsa or RSA key", nameof(privateKey));
        }

        for (var i = 0; i < chain.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(chain[i], nameof(certificates));
            var info = Read(chain[i], i);
            if (i == 0)
            {
                Id = X509SvidRules.CheckLeaf(info);
            }
            else if (X509SvidRules.SigningCertificateError(info, X509SvidRules.Intermediate(i)) is { } error)
            {
                throw new SvidValidationException(error);
            }
        }

        if (!KeyMatches(chain[0], privateKey))
        {
            throw new SvidValidationException("private key does not match the leaf certificate");
        }

        Certificates = chain;
        PrivateKey = privateKey;
        Hint = hint;
    }

    /// <summary>The SPIFFE ID in the leaf's URI SAN (X509-SVID §2).</summary>
    public SpiffeId Id { get; }

    /// <summary>The leaf, then the intermediates.</summary>
    public ImmutableArray<X509Certificate2> Certificates { get; }

    /// <summary>The leaf certificate.</summary>
    public X509Certificate2 Leaf => Certificates[0];

    /// <summary>The leaf's private key: an <see cref="ECDsa"/> or an <see cref="RSA"/>.</summary>
    public AsymmetricAlgorithm PrivateKey { get; }

    /// <summary>The Workload API hint (an operator-chosen label for choosing among SVIDs), if any.</summary>
    public string? Hint { get; }

    /// <summary>Parses certificates and a private key, each PEM or DER (detected).</summary>
    /// <param name="certificates">PEM <c>CERTIFICATE</c> blocks or concatenated DER, leaf first.</param>
    /// <param name="privateKey">PEM (<c>PRIVATE KEY</c>, <c>EC PRIVATE KEY</c>, <c>RSA PRIVATE KEY</c>) or DER (PKCS#8, SEC 1, PKCS#1).</param>
    /// <exception cref="FormatException">The input is malformed; the message says which part.</exception>
    /// <exception cref="SvidValidationException">The SVID breaks an X509-SVID rule.</exception>
    public static X509Svid Parse(ReadOnlySpan<byte> certificates, ReadOnlySpan<byte> privateKey)
    {
        var chain = CertificateChain.Parse(certificates);
        if (chain.Count == 0)
        {
            throw new FormatException("no certificates found");
        }

        AsymmetricAlgorithm key;
        if (LooksLikePem(privateKey))
        {
            key = ReadPemKey(privateKey, out _) ?? throw new FormatException("no private key found");
        }
        else if (!privateKey.IsEmpty && privateKey[0] == 0x30)
        {
            key = PrivateKeyReader.FromDer(privateKey);
        }
        else
        {
            throw new FormatException(privateKey.IsEmpty ? "no private key found" : "private key is neither PEM nor DER");
        }

        return Create(chain, key, null);
    }

    /// <summary>
    /// Parses one PEM file holding the chain (leaf first) and the private key, in either order;
    /// other PEM blocks (e.g. <c>EC PARAMETERS</c>) are ignored.
    /// </summary>
    /// <exception cref="FormatException">The PEM is malformed, has no certificate, or has no private key or more than one.</exception>
    /// <exception cref="SvidValidationException">The SVID breaks an X509-SVID rule.</exception>
    public static X509Svid ParseCombined(ReadOnlySpan<byte> pem)
    {
        var key = ReadPemKey(pem, out var chain);
        if (chain.Count == 0)
        {
            (key as IDisposable)?.Dispose();
            throw new FormatException("no certificates found");
        }

        return Create(chain, key ?? throw new FormatException("no private key found"), null);
    }

    /// <summary>Loads the chain and the key from two files, each PEM or DER.</summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    /// <exception cref="FormatException">A file is malformed.</exception>
    /// <exception cref="SvidValidationException">The SVID breaks an X509-SVID rule.</exception>
    public static X509Svid Load(string certFile, string keyFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(certFile);
        ArgumentException.ThrowIfNullOrEmpty(keyFile);
        var certificates = File.ReadAllBytes(certFile);
        var key = File.ReadAllBytes(keyFile);
        try
        {
            return Parse(certificates, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>
    /// Parses the Workload API encoding (the <c>X509SVID</c> message of the SPIFFE Workload API): concatenated DER certificates,
    /// leaf first, and a PKCS#8 DER private key.
    /// </summary>
    /// <exception cref="FormatException">The chain or the key is malformed.</exception>
    /// <exception cref="SvidValidationException">The SVID breaks an X509-SVID rule.</exception>
    public static X509Svid FromDer(ReadOnlySpan<byte> concatenatedDerChain, ReadOnlySpan<byte> pkcs8Key, string? hint = null)
    {
        var chain = Der.ReadCertificates(concatenatedDerChain);
        if (chain.Count == 0)
        {
            throw new FormatException("no certificates found");
        }

        if (pkcs8Key.IsEmpty)
        {
            throw new FormatException("no private key found");
        }

        return Create(chain, PrivateKeyReader.FromPkcs8(pkcs8Key), hint);
    }

    /// <summary>
    /// A new copy of the leaf with the private key attached, for <c>SslStream</c>/Kestrel. The
    /// caller owns (and may dispose) the returned instance.
    /// </summary>
    public X509Certificate2 GetCertificateWithPrivateKey() => PrivateKey switch
    {
        ECDsa ecdsa => Leaf.CopyWithPrivateKey(ecdsa),
        RSA rsa => Leaf.CopyWithPrivateKey(rsa),
        _ => throw new InvalidOperationException("unreachable: the key type is checked on creation"),
    };

    /// <summary>The chain (leaf first) as PEM <c>CERTIFICATE</c> blocks.</summary>
    public string ToPem()
    {
        var sb = new StringBuilder();
        foreach (var certificate in Certificates)
        {
            sb.Append(PemEncoding.Write("CERTIFICATE", certificate.RawDataMemory.Span)).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The private key as a PKCS#8 <c>PRIVATE KEY</c> PEM block.</summary>
    public string KeyToPem()
    {
        var pkcs8 = KeyToPkcs8();
        try
        {
            return new string(PemEncoding.Write(PrivateKeyReader.Pkcs8Label, pkcs8)) + "\n";
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>The chain as concatenated DER, leaf first (the Workload API's encoding).</summary>
    public byte[] ChainToDer() => Der.Concat(Certificates.AsSpan());

    /// <summary>The private key as PKCS#8 DER (the Workload API's encoding). The caller should zero it after use.</summary>
    public byte[] KeyToPkcs8() => PrivateKey.ExportPkcs8PrivateKey();

    /// <summary>This SVID: a loaded SVID is a source that never rotates.</summary>
    public X509Svid GetX509Svid() => this;

    private static X509Svid Create(List<X509Certificate2> chain, AsymmetricAlgorithm key, string? hint)
    {
        try
        {
            return new X509Svid(chain, key, hint);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static X509CertificateInfo Read(X509Certificate2 certificate, int index)
    {
        try
        {
            return X509CertificateInfo.Parse(certificate.RawDataMemory, copy: false);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"certificate {index + 1} cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>Proves possession rather than comparing encodings: sign with the key, verify with the leaf.</summary>
    private static bool KeyMatches(X509Certificate2 leaf, AsymmetricAlgorithm privateKey)
    {
        try
        {
            switch (privateKey)
            {
                case ECDsa ecdsa:
                    {
                        using var leafKey = leaf.GetECDsaPublicKey();
                        return leafKey is not null
                            && leafKey.VerifyData(KeyProbe, ecdsa.SignData(KeyProbe, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256);
                    }

                case RSA rsa:
                    {
                        using var leafKey = leaf.GetRSAPublicKey();
                        return leafKey is not null
                            && leafKey.VerifyData(
                                KeyProbe,
                                rsa.SignData(KeyProbe, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                                HashAlgorithmName.SHA256,
                                RSASignaturePadding.Pkcs1);
                    }

                default:
                    return false;
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static bool LooksLikePem(ReadOnlySpan<byte> data) => CertificateChain.LooksLikePem(data);

    /// <summary>
    /// Reads the SPIFFE ID of a certificate's single URI SAN without checking anything else;
    /// for certificates a handshake or <see cref="X509SvidVerifier"/> has already verified.
    /// </summary>
    public static bool TryGetSpiffeId(X509Certificate2 certificate, out SpiffeId id)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        id = default;
        try
        {
            var info = X509CertificateInfo.Parse(certificate.RawDataMemory, copy: false);
            return info.UriSans.Count == 1 && SpiffeId.TryParse(info.UriSans[0], out id);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Reads PEM text; returns the one private key (or null) and the certificates.</summary>
    private static AsymmetricAlgorithm? ReadPemKey(ReadOnlySpan<byte> pem, out List<X509Certificate2> certificates)
    {
        var chars = new char[Encoding.UTF8.GetMaxCharCount(pem.Length)];
        List<Pem.Block> blocks;
        try
        {
            var length = Encoding.UTF8.GetChars(pem, chars);
            blocks = Pem.ReadBlocks(chars.AsSpan(0, length));
        }
        finally
        {
            Array.Clear(chars);
        }

        certificates = [];
        AsymmetricAlgorithm? key = null;
        try
        {
            foreach (var block in blocks)
            {
                if (block.Label == "CERTIFICATE")
                {
                    certificates.Add(Der.LoadCertificate(block.Data, $"certificate {certificates.Count + 1}"));
                }
                else if (PrivateKeyReader.IsKeyLabel(block.Label))
                {
                    if (key is not null)
                    {
                        throw new FormatException("more than one private key found");
                    }

                    key = PrivateKeyReader.FromPemBlock(block.Label, block.Data);
                }
            }
        }
        catch
        {
            key?.Dispose();
            throw;
        }
        finally
        {
            foreach (var block in blocks)
            {
                if (block.Label != "CERTIFICATE")
                {
                    CryptographicOperations.ZeroMemory(block.Data);
                }
            }
        }

        return key;
    }
}
