using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Anchorage.Testing;
using Anchorage.WorkloadApi.Tests.Fixtures;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.WorkloadApi.Tests;

[CollectionDefinition(nameof(WorkloadApiMetricsTests), DisableParallelization = true)]
public sealed class WorkloadApiMetricsGroup;

/// <summary>The sources' instruments, read with a <see cref="MeterListener"/>; alone, so no other test's source is measured.</summary>
[Collection(nameof(WorkloadApiMetricsTests))]
public sealed class WorkloadApiMetricsTests
{
    private static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token;

    [Fact]
    public async Task X509Source_Updates_CountedPerSource_AgeFollowsClock_GoneAfterDispose()
    {
        var updates = new ConcurrentDictionary<string, long>();
        var ages = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == WorkloadApiMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            Assert.Equal(WorkloadApiMetrics.Updates, instrument.Name);
            updates.AddOrUpdate(Tag(tags), value, (_, old) => old + value);
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            Assert.Equal(WorkloadApiMetrics.LastUpdateAge, instrument.Name);
            ages[Tag(tags)] = value;
        });
        listener.Start();

        await using var server = await TestWorkloadApiServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var client = server.NewClient(o => o.TimeProvider = time);
        var source = await X509Source.CreateAsync(client, cancellationToken: Timeout);
        var updated = Channel.CreateUnbounded<bool>();
        source.Updated += (_, _) => updated.Writer.TryWrite(true);
        server.Provider.Update([server.IssueSvid("/workload", "internal")], server.Bundles());
        await updated.Reader.ReadAsync(Timeout);
        await Eventually.TrueAsync(() => updates.GetValueOrDefault("x509") == 2);

        time.Advance(TimeSpan.FromSeconds(42));
        listener.RecordObservableInstruments();
        var age = ages["x509"];
        await source.DisposeAsync();
        ages.Clear();
        listener.RecordObservableInstruments();

        Assert.Equal(42, age, precision: 3);
        Assert.False(ages.ContainsKey("x509"));
        Assert.Equal(2, updates["x509"]);
    }

    private static string Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "source")
            {
                return (string)tag.Value!;
            }
        }

        return "";
    }
}
