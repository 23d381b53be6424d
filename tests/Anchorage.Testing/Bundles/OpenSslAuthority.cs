using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Anchorage.Testing.Bundles;

/// <summary>
/// A CA certificate and its public key produced by the <c>openssl</c> CLI, the independent producer
/// for bundle fixtures: the x5c value, the JWK key parameters and the SubjectPublicKeyInfo all
/// come from openssl's own output, not from .NET.
/// </summary>
public sealed class OpenSslAuthority
{
    private OpenSslAuthority(string kty, string? crv, string x5c, string first, string second, byte[] spki, byte[] der)
    {
        Kty = kty;
        Crv = crv;
        X5c = x5c;
        First = first;
        Second = second;
        SubjectPublicKeyInfo = spki;
        CertificateDer = der;
    }

    /// <summary><c>EC</c> or <c>RSA</c>.</summary>
    public string Kty { get; }

    /// <summary>The JWK curve name for EC.</summary>
    public string? Crv { get; }

    /// <summary>Standard base64 of the DER certificate, as <c>openssl base64 -A</c> prints it.</summary>
    public string X5c { get; }

    /// <summary>base64url <c>x</c> (EC) or <c>n</c> (RSA).</summary>
    public string First { get; }

    /// <summary>base64url <c>y</c> (EC) or <c>e</c> (RSA).</summary>
    public string Second { get; }

    /// <summary>The public key as <c>openssl pkey -pubout -outform DER</c> writes it.</summary>
    public byte[] SubjectPublicKeyInfo { get; }

    /// <summary>The certificate as <c>openssl x509 -outform DER</c> writes it.</summary>
    public byte[] CertificateDer { get; }

    /// <summary>Creates a self-signed CA for <paramref name="trustDomain"/> with openssl in a temp directory.</summary>
    /// <param name="trustDomain">The trust domain named in the URI SAN.</param>
    /// <param name="curve">An openssl curve name (<c>P-256</c>, <c>P-384</c>, <c>P-521</c>), or null for RSA 2048.</param>
    public static OpenSslAuthority Create(string trustDomain, string? curve)
    {
        var dir = Directory.CreateTempSubdirectory("anchorage-openssl-");
        try
        {
            var key = Path.Combine(dir.FullName, "ca.key");
            var pem = Path.Combine(dir.FullName, "ca.pem");
            var der = Path.Combine(dir.FullName, "ca.der");
            var pubDer = Path.Combine(dir.FullName, "pub.der");
            var keyArgs = curve is null
                ? new[] { "-newkey", "rsa:2048" }
                : ["-newkey", "ec", "-pkeyopt", $"ec_paramgen_curve:{curve}"];
            Run(dir.FullName, ["req", "-x509", .. keyArgs, "-nodes", "-keyout", key, "-out", pem, "-days", "30",
                "-subj", $"/O={trustDomain}/CN=openssl test ca",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-addext", $"subjectAltName=URI:spiffe://{trustDomain}"]);
            Run(dir.FullName, ["x509", "-in", pem, "-outform", "DER", "-out", der]);
            var x5c = Run(dir.FullName, ["base64", "-A", "-in", der]).Trim();
            Run(dir.FullName, ["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", pubDer]);
            var spki = File.ReadAllBytes(pubDer);
            var certificate = File.ReadAllBytes(der);
            if (curve is null)
            {
                // "Modulus=HEX"; the exponent openssl uses for rsa:2048 is 65537.
                var modulus = Run(dir.FullName, ["rsa", "-in", key, "-noout", "-modulus"]).Trim();
                var text = Run(dir.FullName, ["rsa", "-in", key, "-noout", "-text"]);
                if (!text.Contains("publicExponent: 65537", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("openssl chose an unexpected RSA exponent");
                }

                var n = Convert.FromHexString(modulus["Modulus=".Length..]);
                return new OpenSslAuthority("RSA", null, x5c, JwkJson.B64Url(n), "AQAB", spki, certificate);
            }

            // "pub:" is followed by hex lines of the uncompressed point 04 || X || Y.
            var ecText = Run(dir.FullName, ["ec", "-in", key, "-noout", "-text"]);
            var hex = new StringBuilder();
            var inPub = false;
            foreach (var line in ecText.Split('\n'))
            {
                if (line.StartsWith("pub:", StringComparison.Ordinal))
                {
                    inPub = true;
                    continue;
                }

                if (inPub && line.StartsWith(' '))
                {
                    hex.Append(line.Trim().Replace(":", string.Empty, StringComparison.Ordinal));
                }
                else if (inPub)
                {
                    break;
                }
            }

            var point = Convert.FromHexString(hex.ToString());
            if (point[0] != 4)
            {
                throw new InvalidOperationException("openssl printed a compressed point");
            }

            var size = (point.Length - 1) / 2;
            return new OpenSslAuthority("EC", curve, x5c, JwkJson.B64Url(point.AsSpan(1, size)), JwkJson.B64Url(point.AsSpan(1 + size)), spki, certificate);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    /// <summary>Runs openssl with <paramref name="args"/>; returns stdout, throws with stderr on failure.</summary>
    public static string Run(string workingDirectory, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("openssl")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("openssl did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"openssl {string.Join(' ', info.ArgumentList)} failed ({process.ExitCode}): {stderr.Result}"));
        }

        return stdout;
    }
}
