using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;

namespace Anchorage.AspNetCore.Tests.Fixtures;

/// <summary>
/// Two trust domains' CAs, and SVIDs issued by them, built inside the tests and valid around the
/// real current time (Kestrel and SocketsHttpHandler verify with the system clock).
/// </summary>
internal sealed class Identities
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static readonly TestCaOptions CaValidity = new() { NotBefore = Now.AddDays(-1), NotAfter = Now.AddDays(30) };

    public static readonly TrustDomain Td = TrustDomain.Parse("example.org");

    public TestCa Ca { get; } = TestCa.CreateRoot("example.org", CaValidity);

    /// <summary>Another CA that also calls itself example.org: its SVIDs must never verify.</summary>
    public TestCa Impostor { get; } = TestCa.CreateRoot("example.org", CaValidity);

    public TestCa OtherCa { get; } = TestCa.CreateRoot("other.test", CaValidity);

    public BundleSet Bundles => BundleSet.Empty.With(Ca.Bundle()).With(OtherCa.Bundle());

    public static SpiffeId Id(string path) => SpiffeId.Parse("spiffe://example.org" + path);

    public X509Svid Svid(string path, TestCa? ca = null)
    {
        var leaf = (ca ?? Ca).IssueLeaf(new TestLeafOptions { Path = path, NotBefore = DateTimeOffset.UtcNow.AddMinutes(-5), NotAfter = DateTimeOffset.UtcNow.AddHours(1) });
        return new X509Svid(leaf.Chain, leaf.Key);
    }
}
