using Anchorage.AspNetCore.Health;
using Anchorage.AspNetCore.Tests.Fixtures;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.AspNetCore.Tests.Health;

public sealed class SpiffeHealthCheckTests
{
    private readonly Identities _ids = new();

    [Fact]
    public async Task CheckHealth_ValidSvidAndOwnBundle_Healthy_AfterNotAfter_Unhealthy()
    {
        var svid = _ids.Svid("/web");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var check = new SpiffeHealthCheck(svid, _ids.Bundles, time);

        var healthy = await check.CheckHealthAsync(new HealthCheckContext());
        time.SetUtcNow(new DateTimeOffset(svid.Leaf.NotAfter.ToUniversalTime()));
        var expired = await check.CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(HealthStatus.Unhealthy, expired.Status);
        Assert.StartsWith("x509-svid spiffe://example.org/web is not valid now", expired.Description);
    }

    [Fact]
    public async Task CheckHealth_NoBundleForOwnTrustDomain_Unhealthy()
    {
        var check = new SpiffeHealthCheck(_ids.Svid("/web"), BundleSet.Empty.With(_ids.OtherCa.Bundle()));
        var result = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("no x509 bundle for trust domain example.org", result.Description);
    }

    [Fact]
    public async Task CheckHealth_SourceWithoutSvid_Unhealthy()
    {
        var check = new SpiffeHealthCheck(new EmptySource(), _ids.Bundles);
        var result = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("no x509-svid: x509 source has no svid yet", result.Description);
    }

    /// <summary>TEST DOUBLE: a source before its first update, as X509Source answers then.</summary>
    private sealed class EmptySource : IX509SvidSource
    {
        public X509Svid GetX509Svid() => throw new InvalidOperationException("x509 source has no svid yet");
    }
}
