using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Testing.X509;

/// <summary>
/// Builds certificates with the <c>openssl</c> CLI (req / x509 with extension files), an
/// independent producer to check our parsing and verification against. Each certificate
/// <c>name</c> leaves <c>name.key</c> (PKCS#8 PEM) and <c>name.pem</c> in the work directory.
/// openssl stamps the current wall-clock time, so verify at <see cref="X509Certificate2.NotBefore"/>
/// of the leaf (plus a little) with a fake clock.
/// </summary>
public sealed class OpenSslCa(OpenSsl openssl)
{
    /// <summary>Extensions of a well-formed SVID signing certificate (X509-SVID §4.1, §4.3).</summary>
    public const string CaExtensions =
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";

    public OpenSsl OpenSsl { get; } = openssl;

    /// <summary>Extensions of a well-formed leaf SVID for <paramref name="uri"/> (X509-SVID §2, §4.1, §4.3, §4.4).</summary>
    public static string LeafExtensions(string uri) =>
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        + "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=" + (uri.Length == 0 ? "DNS:example.org" : "URI:" + uri) + "\n";

    /// <summary>Generates <c>name.key</c>: <c>P-256</c>, <c>P-384</c>, <c>P-521</c> or <c>RSA</c> (2048 bits).</summary>
    public string CreateKey(string name, string algorithm = "P-256")
    {
        var file = name + ".key";
        if (algorithm == "RSA")
        {
            OpenSsl.Run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", file);
        }
        else
        {
            OpenSsl.Run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + algorithm, "-out", file);
        }

        return OpenSsl.PathOf(file);
    }

    /// <summary>A self-signed root with <paramref name="extensions"/> (openssl config lines).</summary>
    public X509Certificate2 CreateRoot(string name, string extensions = CaExtensions, string algorithm = "P-256", int days = 3650)
    {
        CreateKey(name, algorithm);
        OpenSsl.WriteFile(name + ".cnf", "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=" + name + "\n[ext]\n" + extensions);
        OpenSsl.Run("req", "-x509", "-new", "-key", name + ".key", "-config", name + ".cnf", "-extensions", "ext",
            "-days", days.ToString(System.Globalization.CultureInfo.InvariantCulture), "-out", name + ".pem");
        return Load(name);
    }

    /// <summary>
    /// A certificate for a new key, signed by <paramref name="issuer"/> (a name made earlier), with
    /// <paramref name="extensions"/>; <paramref name="signOptions"/> go to <c>openssl x509</c>
    /// (e.g. <c>-sha384</c>, <c>-sigopt rsa_padding_mode:pss</c>).
    /// </summary>
    public X509Certificate2 Issue(string name, string issuer, string extensions, string algorithm = "P-256", int days = 30, params string[] signOptions)
    {
        CreateKey(name, algorithm);
        OpenSsl.WriteFile(name + ".ext", "[ext]\n" + extensions);
        OpenSsl.Run("req", "-new", "-key", name + ".key", "-subj", "/CN=" + name, "-out", name + ".csr");
        string[] args =
        [
            "x509", "-req", "-in", name + ".csr", "-CA", issuer + ".pem", "-CAkey", issuer + ".key",
            "-set_serial", "0x" + Convert.ToHexString(Guid.NewGuid().ToByteArray()[..8]),
            "-days", days.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-extfile", name + ".ext", "-extensions", "ext", "-out", name + ".pem",
            .. signOptions,
        ];
        OpenSsl.Run(args);
        return Load(name);
    }

    /// <summary>Loads <c>name.pem</c>.</summary>
    public X509Certificate2 Load(string name) => X509CertificateLoader.LoadCertificateFromFile(OpenSsl.PathOf(name + ".pem"));
}
