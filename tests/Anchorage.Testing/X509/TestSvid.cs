using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Anchorage.Testing.X509;

/// <summary>A leaf made by a <see cref="TestCa"/>: the certificate, its key, and the chain up to (not including) the root.</summary>
public sealed class TestSvid
{
    internal TestSvid(X509Certificate2 leaf, AsymmetricAlgorithm key, IReadOnlyList<X509Certificate2> intermediates)
    {
        Leaf = leaf;
        Key = key;
        Intermediates = intermediates;
        Chain = [leaf, .. intermediates];
    }

    public X509Certificate2 Leaf { get; }

    /// <summary>The private key handed out with the leaf (a foreign one with <see cref="TestLeafOptions.WrongKey"/>).</summary>
    public AsymmetricAlgorithm Key { get; }

    /// <summary>The intermediates from the issuer up to, not including, the root.</summary>
    public IReadOnlyList<X509Certificate2> Intermediates { get; }

    /// <summary>Leaf first, then the intermediates.</summary>
    public IReadOnlyList<X509Certificate2> Chain { get; }

    /// <summary>The chain as PEM blocks.</summary>
    public string ChainPem => string.Concat(Chain.Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n"));

    /// <summary>The chain as concatenated DER.</summary>
    public byte[] ChainDer => Chain.SelectMany(c => c.RawData).ToArray();

    /// <summary>The key as PKCS#8 DER.</summary>
    public byte[] KeyPkcs8 => Key.ExportPkcs8PrivateKey();

    /// <summary>The key as a PKCS#8 PEM block.</summary>
    public string KeyPem => PemEncoding.WriteString("PRIVATE KEY", KeyPkcs8) + "\n";

    /// <summary>UTF-8 bytes of <paramref name="text"/>.</summary>
    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
