using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Fuzz;

/// <summary>
/// The fixed trust anchor of every target: <c>fuzz/fixtures/root.pem</c> (an EC P-256 root for
/// <c>spiffe://fuzz.example</c>) and its key, embedded so a run needs no files and is the same every
/// time. The same key is the JWT authority <c>fuzz</c>. Verification happens at a fixed instant.
/// </summary>
internal static class Fixtures
{
    public const string JwtKeyId = "fuzz";
    public const string Audience = "fuzz-audience";

    public static readonly TrustDomain TrustDomain = TrustDomain.Parse("fuzz.example");

    /// <summary>The instant every verification is done at (the tests' clock, inside the root's validity).</summary>
    public static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly X509Certificate2 Root = X509Certificate2.CreateFromPem(Resource("root.pem"));

    public static readonly X509Bundle X509Bundle = new(TrustDomain, [Root]);

    public static readonly JwtBundle JwtBundle = new(TrustDomain, [new JwtAuthority(JwtKeyId, Root.PublicKey.ExportSubjectPublicKeyInfo())]);

    public static ECDsa RootKey()
    {
        var key = ECDsa.Create();
        key.ImportFromPem(Resource("root.key.pem"));
        return key;
    }

    private static string Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"resource {name} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
