using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.X509;
using Xunit.Abstractions;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Lifecycle coherence (issue 15 item 2) on a real server fetching a real https_web endpoint: a peer
/// whose refresh hint is longer than our maxStaleness is flagged <c>slow-revocation</c>; a peer that
/// rotates without overlap (the new authority appears in the same fetch the old one leaves) is flagged
/// <c>no-rotation-overlap</c>; the positive controls (short hint, overlapping rotation) are not.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationCoherenceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Peer_LongHintThenRotationWithoutOverlap_FlagsSlowRevocationAndNoRotationOverlap()
    {
        await using var domains = await TwoDomains.StartAsync();
        var web = TrustDomain.Parse("web.example");
        var first = TestCa.CreateRoot(web.Name);
        var second = TestCa.CreateRoot(web.Name);
        string Doc(ulong sequence, TimeSpan hint, params TestCa[] cas) =>
            new SpiffeBundle(web, [.. cas.Select(c => c.Certificate)], [], sequence, hint).ToJson();
        await using var endpoint = await WebEndpoint.StartAsync();

        // Positive control: a 1 s hint with maxStaleness 1m, one authority: coherent.
        endpoint.Body = Doc(1, TimeSpan.FromSeconds(1), first);
        await ApplyWebAsync(domains, web, endpoint);
        var coherent = await WaitAsync(domains.Payments, web, s => s.Sequence == 1 && s.LastRefresh > 0);
        Assert.DoesNotContain("slow-revocation", coherent.Flags);
        Assert.DoesNotContain("no-rotation-overlap", coherent.Flags);
        Assert.Equal((1L, 1L, 2L), (coherent.PeerRefreshHintSeconds, coherent.PollIntervalSeconds, coherent.WorstCaseRevocationSeconds));

        // Overlapping rotation (both published), still a short hint: coherent.
        endpoint.Body = Doc(2, TimeSpan.FromSeconds(1), first, second);
        var overlapping = await WaitAsync(domains.Payments, web, s => s.Sequence == 2);
        Assert.DoesNotContain("no-rotation-overlap", overlapping.Flags);
        Assert.True(overlapping.HasOverlap && overlapping.SmallestOverlapSeconds > 0);

        // The peer now publishes a 1 h hint: a revocation can take an hour to reach our workloads.
        endpoint.Body = Doc(3, TimeSpan.FromHours(1), first, second);
        var slow = await WaitAsync(domains.Payments, web, s => s.Sequence == 3);
        output.WriteLine($"hint 1h: poll {slow.PollIntervalSeconds} s, worst-case revocation {slow.WorstCaseRevocationSeconds} s, flags [{string.Join(",", slow.Flags)}]");
        Assert.Contains("slow-revocation", slow.Flags);
        Assert.Equal(3601L, slow.WorstCaseRevocationSeconds);

        // Back to a short hint, then a rotation that swaps the authority in one step.
        endpoint.Body = Doc(4, TimeSpan.FromSeconds(1), second);
        await domains.Payments.CliAsync("federation", "refresh", web.Name);
        var third = TestCa.CreateRoot(web.Name);
        endpoint.Body = Doc(5, TimeSpan.FromSeconds(1), third);
        // Waits for the fetch's history row, which the refresher writes after its refresh state: seeing
        // sequence 5 alone can come between storing the bundle and recording what the fetch observed.
        var swapped = await WaitAsync(domains.Payments, web, s => s.Sequence == 5 && s.Fetches.Any(f => f.Outcome == "ok" && f.Sequence == 5));
        output.WriteLine($"swap without overlap: flags [{string.Join(",", swapped.Flags)}], seen at {swapped.RotationWithoutOverlapAt}");
        Assert.Contains("no-rotation-overlap", swapped.Flags);
        Assert.NotEqual(0L, swapped.RotationWithoutOverlapAt);
        Assert.DoesNotContain("slow-revocation", swapped.Flags);
    }

    [Fact]
    public async Task Peer_ClockFiveMinutesAhead_SkewMeasuredFromItsDateAndFlagged_SameClock_NotFlagged()
    {
        await using var domains = await TwoDomains.StartAsync();
        var web = TrustDomain.Parse("web.example");
        var ca = TestCa.CreateRoot(web.Name);
        string Doc(ulong sequence) => new SpiffeBundle(web, [ca.Certificate], [], sequence, TimeSpan.FromSeconds(1)).ToJson();
        await using var endpoint = await WebEndpoint.StartAsync();

        // Positive control: the endpoint's own Date, on the same machine's clock.
        endpoint.Body = Doc(1);
        await ApplyWebAsync(domains, web, endpoint);
        var same = await WaitAsync(domains.Payments, web, s => s.Sequence == 1 && s.HasClockSkew);
        Assert.InRange(same.ClockSkewMs, -2000, 2000);
        Assert.DoesNotContain("skew", same.Flags);

        endpoint.DateOffset = TimeSpan.FromMinutes(5);
        endpoint.Body = Doc(2);
        var ahead = await WaitAsync(domains.Payments, web, s => s.Sequence == 2 && s.ClockSkewMs > 60_000);
        output.WriteLine($"peer 5 min ahead: clock skew {ahead.ClockSkewMs} ms, flags [{string.Join(",", ahead.Flags)}]");
        Assert.InRange(ahead.ClockSkewMs, 298_000, 301_000);
        Assert.Contains("skew", ahead.Flags);
        var shown = await domains.Payments.CliAsync("federation", "show", web.Name);
        Assert.Contains(shown.Out.Split('\n'), l => l.StartsWith("clock skew:", StringComparison.Ordinal) && l.Contains("(the peer is ahead)", StringComparison.Ordinal));
    }

    // The https_web relationship to the test's own endpoint (its CA pinned), maxStaleness 1m.
    private static Task ApplyWebAsync(TwoDomains domains, TrustDomain web, WebEndpoint endpoint) =>
        domains.ApplyYamlAsync(domains.Payments, web, $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: {web.Name}
            spec:
              trustDomain: {web.Name}
              owner: platform@acme.corp
              bundleEndpoint:
                url: {endpoint.Url}
                profile: https_web
                caBundle: |
            {string.Join('\n', endpoint.CaPem.TrimEnd().Split('\n').Select(l => "      " + l))}
              maxStaleness: 1m
            """);
}
