using System.Collections.Concurrent;
using System.Text.Json;
using Anchorage.Foundation.Audit;
using Anchorage.Testing.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Hosting.Tests.Audit;

/// <summary>Issue 11, item 4: a flood of denials cannot rotate older evidence out of the audit trail.</summary>
public sealed class DenySummarizerTests
{
    [Fact]
    public void Write_FloodFromOneUid_FirstPassThenOneSummaryWithCountAndTimes()
    {
        var time = new FakeTimeProvider(Records.T0);
        var sink = new ListSink();
        using var summarizer = new DenySummarizer(sink, time, perWindow: 3, window: TimeSpan.FromMinutes(1));

        for (var i = 0; i < 100; i++)
        {
            summarizer.Write(Deny(time.GetUtcNow(), pid: 1000 + i, uid: 65534));
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        // Another caller in the same window is not summarized with the first (positive control).
        summarizer.Write(Deny(time.GetUtcNow(), pid: 7, uid: 1000));
        Assert.Equal(4, sink.Records.Count);

        time.Advance(TimeSpan.FromMinutes(1));
        var summary = Assert.Single(sink.Records, r => r.Kind == AuditKinds.DenySummary);
        Assert.Equal(97, summary.Count);
        Assert.Equal(Records.T0.AddMilliseconds(300), summary.FirstTime);
        Assert.Equal(Records.T0.AddMilliseconds(9900), summary.LastTime);
        Assert.Equal(65534u, summary.Process!.Uid);
        Assert.Equal(1099, summary.Process.Pid);
        Assert.Equal("policy", summary.Reason);
    }

    [Fact]
    public void Write_AllowsAndChanges_PassUntouched()
    {
        var time = new FakeTimeProvider(Records.T0);
        var sink = new ListSink();
        using var summarizer = new DenySummarizer(sink, time, perWindow: 0);

        var allow = Deny(time.GetUtcNow(), 1, 1) with { Decision = "allow" };
        summarizer.Write(allow);
        summarizer.Write(Records.Numbered(1));

        Assert.Equal([allow, Records.Numbered(1)], sink.Records);
    }

    /// <summary>
    /// The real audit file, 1 MiB and one rotated file: 20,000 denials from one uid push the
    /// first record (the evidence) out of both files without the summarizer, and not with it.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AuditLog_FloodOfDenials_EvidenceSurvivesRotationOnlyWhenSummarized(bool summarized)
    {
        using var dir = new AuditDir();
        var time = new FakeTimeProvider(Records.T0);
        var log = new AuditLog(new AuditOptions { File = dir.File(), MaxSizeMB = 1, Keep = 1 }, timeProvider: time);
        await using (log)
        {
            using var summarizer = new DenySummarizer(log, time);
            IAuditSink sink = summarized ? summarizer : log;
            sink.Write(Records.Numbered(0) with { Detail = "evidence" });
            for (var i = 0; i < 20_000; i++)
            {
                sink.Write(Deny(time.GetUtcNow(), 2000 + i, 65534));

                // Slowly enough that the queue never drops a record: this is about rotation.
                if (i % 1000 == 0)
                {
                    await Eventually.TrueAsync(() => log.Written >= (summarized ? 1 : i));
                }
            }
        }

        var lines = Records.Lines(dir.File() + ".1").Concat(Records.Lines(dir.File())).ToList();
        Assert.Equal(summarized, lines.Any(l => l.Contains("\"evidence\"", StringComparison.Ordinal)));
        if (summarized)
        {
            var summary = lines.Select(l => JsonDocument.Parse(l).RootElement).Single(e => e.GetProperty("kind").GetString() == AuditKinds.DenySummary);
            Assert.Equal(20_000 - DenySummarizer.DefaultPerWindow, summary.GetProperty("count").GetInt64());
        }
    }

    private static AuditRecord Deny(DateTimeOffset at, int pid, uint uid) => new()
    {
        Time = at,
        Kind = AuditKinds.Connection,
        ConnectionId = "c" + pid,
        Direction = "outbound",
        Listener = "payments",
        Decision = "deny",
        Reason = "policy",
        Rule = "default",
        Process = new AuditProcess(pid, "/usr/bin/python3", new string('a', 64), uid, uid, 12345),
        Remote = "127.0.0.1:8443",
    };

    private sealed class ListSink : IAuditSink
    {
        private readonly ConcurrentQueue<AuditRecord> _records = new();

        public IReadOnlyList<AuditRecord> Records => [.. _records];

        public void Write(AuditRecord record) => _records.Enqueue(record);
    }
}
