using System.Text.Json;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.X509;
using Xunit.Abstractions;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Fetch history (issue 16 item 2) and the observed sequence-change rate (issue 15 item 2) on a real
/// server fetching a real https_web endpoint: every fetch is recorded with its outcome (ok,
/// not-modified, error with its one-line reason), the sequence and hint served and the clock skew;
/// the admin API, <c>federation show</c> (table and JSON) show it; sequence changes are counted from
/// accepted fetches only (a broken answer in between is not a change).
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationFetchHistoryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Peer_ServesSequence1_ThenGarbage_Then2And3_HistoryHasEachOutcome_TwoSequenceChanges()
    {
        await using var domains = await TwoDomains.StartAsync();
        var web = TrustDomain.Parse("web.example");
        var ca = TestCa.CreateRoot(web.Name);
        string Doc(ulong sequence) => new SpiffeBundle(web, [ca.Certificate], [], sequence, TimeSpan.FromSeconds(1)).ToJson();
        await using var endpoint = await WebEndpoint.StartAsync();

        endpoint.Body = Doc(1);
        await domains.ApplyYamlAsync(domains.Payments, web, $"""
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
        var first = await WaitAsync(domains.Payments, web, s => s.Fetches.Any(f => f.Outcome == "not-modified"));
        Assert.Equal(0, first.SequenceChanges);

        endpoint.Body = "this is not json";
        await WaitAsync(domains.Payments, web, s => s.Fetches.Count > 0 && s.Fetches[0].Outcome == "error");
        endpoint.Body = Doc(2);
        await WaitAsync(domains.Payments, web, s => s.Sequence == 2);
        endpoint.Body = Doc(3);
        var status = await WaitAsync(domains.Payments, web, s => s.Sequence == 3 && s.Fetches[0].Outcome == "not-modified");
        foreach (var f in status.Fetches.Reverse())
        {
            output.WriteLine($"{f.TimeMs} {f.Outcome} seq={(f.HasSequence ? f.Sequence : "-")} hint={f.RefreshHintSeconds} skew={f.ClockSkewMs} {f.Message}");
        }

        // Newest first; each outcome with what it carries.
        Assert.True(status.Fetches.Zip(status.Fetches.Skip(1)).All(p => p.First.TimeMs >= p.Second.TimeMs));
        Assert.InRange(status.Fetches.Count, 5, 50);
        var oks = status.Fetches.Where(f => f.Outcome == "ok").Select(f => f.Sequence).Reverse().ToList();
        Assert.Equal([1UL, 2UL, 3UL], oks);
        Assert.All(status.Fetches.Where(f => f.Outcome != "error"), f => Assert.True(f.HasSequence && f.RefreshHintSeconds == 1 && f.HasClockSkew && f.Message.Length == 0));
        var error = status.Fetches.First(f => f.Outcome == "error");
        Assert.StartsWith(endpoint.Url + ": not a SPIFFE bundle: ", error.Message, StringComparison.Ordinal);
        Assert.False(error.HasSequence);

        // Two changes (1 -> 2, 2 -> 3): the garbage in between is not one.
        Assert.Equal(2, status.SequenceChanges);
        Assert.True(status.LastSequenceChangeAt > 0 && status.FetchHistorySince > 0);
        Assert.InRange(status.MedianSequenceChangeIntervalSeconds, 0, 60); // one interval, seconds apart (the unit tests check the median itself)

        var shown = await domains.Payments.CliAsync("federation", "show", web.Name);
        var lines = shown.Out.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("sequence changes:", StringComparison.Ordinal) && l.Contains("2 since ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"fetch history (newest {Math.Min(10, status.Fetches.Count)} of ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("not-modified", StringComparison.Ordinal));

        var json = await domains.Payments.CliAsync("federation", "show", web.Name, "--output", "json");
        using var doc = JsonDocument.Parse(json.Out);
        var fetches = doc.RootElement.GetProperty("fetches");
        Assert.True(fetches.GetArrayLength() >= status.Fetches.Count);
        Assert.Contains(fetches.EnumerateArray(), f => f.GetProperty("outcome").GetString() == "error"
            && f.GetProperty("message").GetString()!.Contains("not a SPIFFE bundle", StringComparison.Ordinal)
            && f.GetProperty("sequence").ValueKind == JsonValueKind.Null);
        Assert.Equal(2, doc.RootElement.GetProperty("coherence").GetProperty("sequenceChanges").GetInt32());
    }
}
