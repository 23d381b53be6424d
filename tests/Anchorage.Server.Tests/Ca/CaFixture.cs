using System.Security.Cryptography;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Ca;

/// <summary>Builds CAs and keys for the CA tests; the clock starts at the real time so openssl (-attime) agrees.</summary>
internal static class CaFixture
{
    public static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    public static readonly SpiffeId Workload = SpiffeId.Parse("spiffe://example.org/ns/prod/sa/web");

    public static FakeTimeProvider Clock() =>
        new(new DateTimeOffset(DateTimeOffset.UtcNow.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero));

    public static X509Authority SelfSigned(FakeTimeProvider clock, KeyType keyType = KeyType.EcP256, TimeSpan? ttl = null) =>
        new X509AuthorityFactory(Td, clock).CreateSelfSigned(KeyTypeNames.Generate(keyType), ttl);

    public static byte[] Spki(KeyType keyType = KeyType.EcP256)
    {
        using var key = KeyTypeNames.Generate(keyType);
        return key.ExportSubjectPublicKeyInfo();
    }

    public static string Pem(byte[] der) => PemEncoding.WriteString("CERTIFICATE", der) + "\n";

    public static string Epoch(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
