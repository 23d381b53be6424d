using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.WorkloadApi.Server.Tests;

public sealed class WorkloadIdentityTests
{
    private static readonly TestCa Ca = TestCa.CreateRoot("example.org");

    private static X509Svid Svid(string path, string? hint)
    {
        var leaf = Ca.IssueLeaf(new TestLeafOptions { Path = path });
        return new X509Svid(leaf.Chain, leaf.Key, hint);
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public void Constructor_RepeatedHint_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new WorkloadIdentity("c", Ca.TrustDomain, [Svid("/a", "internal"), Svid("/b", "internal")], BundleSet.Empty.With(Ca.Bundle())));

        Assert.StartsWith("hint \"internal\" is used by more than one svid", ex.Message, StringComparison.Ordinal);
        var ok = new WorkloadIdentity("c", Ca.TrustDomain, [Svid("/a", "internal"), Svid("/b", "external"), Svid("/c", null), Svid("/d", null)], BundleSet.Empty.With(Ca.Bundle()));
        Assert.Equal(4, ok.X509Svids.Length);
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.2")]
    public void Constructor_NoOwnX509Bundle_Throws()
    {
        var other = TestCa.CreateRoot("other.test");

        var ex = Assert.Throws<ArgumentException>(() =>
            new WorkloadIdentity("c", Ca.TrustDomain, [], BundleSet.Empty.With(other.Bundle())));

        Assert.StartsWith("no x509 bundle for own trust domain \"example.org\"", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, new WorkloadIdentity("c", Ca.TrustDomain, [], BundleSet.Empty.With(other.Bundle()).With(Ca.Bundle())).Bundles.X509Bundles.Count);
    }

    [Fact]
    public void AddWorkloadApi_ZeroStreamsPerCaller_Throws()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentOutOfRangeException>(() => services.AddWorkloadApi(o => o.MaxStreamsPerCaller = 0));
        services.AddWorkloadApi(o => o.MaxStreamsPerCaller = 1);
        Assert.Contains(services, d => d.ServiceType == typeof(WorkloadApiService));
    }
}
