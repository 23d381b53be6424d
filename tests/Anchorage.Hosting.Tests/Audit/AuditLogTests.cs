using System.Runtime.Versioning;
using System.Text.Json;
using Anchorage.Foundation.Audit;
using Anchorage.Testing.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Testing.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Hosting.Tests.Audit;

[SupportedOSPlatform("linux")]
public class AuditLogTests
{
    // Every numbered record is the same length (Numbered(n) for n < 10 000 in these tests), so the limit counts lines.
    private static readonly int LineBytes = AuditJson.ToLine(Records.Numbered(1000)).Length + 1;

    [Fact]
    public async Task Write_Records_OneJsonLinePerRecordInOrder()
    {
        using var dir = new AuditDir();
        var log = new AuditLog(new AuditOptions { File = dir.File() });
        for (var n = 1000; n < 1010; n++)
        {
            log.Write(Records.Numbered(n));
        }

        await log.DisposeAsync();

        var lines = Records.Lines(dir.File());
        Assert.Equal(Enumerable.Range(1000, 10).Select(n => AuditJson.ToLine(Records.Numbered(n))), lines);
        Assert.Equal(10, log.Written);
        Assert.Equal(0, log.Errors);
    }

    [Fact]
    public async Task Write_NewFile_CreatedWithMode0640()
    {
        using var dir = new AuditDir();
        var file = Path.Join(dir.Path, "sub", "audit.jsonl");
        var log = new AuditLog(new AuditOptions { File = file });
        log.Write(Records.Numbered(1000));
        await log.DisposeAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(file));
    }

    [Fact]
    public async Task Write_AuditFileIsASymlink_NothingWrittenThroughItAndErrorCounted()
    {
        using var dir = new AuditDir();
        var victim = Path.Join(dir.Path, "victim");
        File.WriteAllText(victim, "root-owned\n");
        var linked = Path.Join(dir.Path, "sub");
        Directory.CreateDirectory(linked);
        File.CreateSymbolicLink(Path.Join(linked, "audit.jsonl"), victim);
        var log = new AuditLog(new AuditOptions { File = Path.Join(linked, "audit.jsonl") });
        var control = new AuditLog(new AuditOptions { File = dir.File() });

        log.Write(Records.Numbered(1000));
        control.Write(Records.Numbered(1000));
        await log.DisposeAsync();
        await control.DisposeAsync();

        Assert.Equal("root-owned\n", File.ReadAllText(victim));
        Assert.Equal(0, log.Written);
        Assert.True(log.Errors > 0);

        // Positive control: the same record into a plain name is written.
        Assert.Equal(1, control.Written);
        Assert.Equal([AuditJson.ToLine(Records.Numbered(1000))], Records.Lines(dir.File()));
    }

    [Fact]
    public async Task Write_PastSizeLimit_RotatesAndKeepsOnlyKeepFiles()
    {
        using var dir = new AuditDir();
        var file = dir.File();

        // 3 lines per file, keep 2: 20 records leave the last 2 in FILE, 3 in FILE.1, 3 in FILE.2.
        var log = new AuditLog(new AuditOptions { File = file, Keep = 2 }, maxBytes: 3 * LineBytes, capacity: 100, logger: null, timeProvider: null, startGate: null);
        for (var n = 1000; n < 1020; n++)
        {
            log.Write(Records.Numbered(n));
        }

        await log.DisposeAsync();

        Assert.Equal(Seq(1018, 2), Sequences(file));
        Assert.Equal(Seq(1015, 3), Sequences(file + ".1"));
        Assert.Equal(Seq(1012, 3), Sequences(file + ".2"));
        Assert.False(File.Exists(file + ".3"));
        Assert.Equal([file, file + ".1", file + ".2"], Directory.GetFiles(dir.Path).Order());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(file));
        Assert.Equal(20, log.Written);
    }

    [Fact]
    public async Task Write_UnderSizeLimit_DoesNotRotate()
    {
        using var dir = new AuditDir();
        var file = dir.File();

        // The positive control of the rotation test: exactly at the limit stays in one file.
        var log = new AuditLog(new AuditOptions { File = file, Keep = 2 }, maxBytes: 20 * LineBytes, capacity: 100, logger: null, timeProvider: null, startGate: null);
        for (var n = 1000; n < 1020; n++)
        {
            log.Write(Records.Numbered(n));
        }

        await log.DisposeAsync();

        Assert.Equal(Seq(1000, 20), Sequences(file));
        Assert.False(File.Exists(file + ".1"));
    }

    [Fact]
    public async Task Write_ExistingFile_AppendsAndCountsItsSize()
    {
        using var dir = new AuditDir();
        var file = dir.File();
        await File.WriteAllTextAsync(file, AuditJson.ToLine(Records.Numbered(999)) + "\n");

        // 2 lines per file: the line already there plus one, then a rotation.
        var log = new AuditLog(new AuditOptions { File = file, Keep = 1 }, maxBytes: 2 * LineBytes, capacity: 100, logger: null, timeProvider: null, startGate: null);
        log.Write(Records.Numbered(1000));
        log.Write(Records.Numbered(1001));
        await log.DisposeAsync();

        Assert.Equal(Seq(999, 2), Sequences(file + ".1"));
        Assert.Equal(Seq(1001, 1), Sequences(file));
    }

    [Fact]
    public async Task Write_KeepZero_OldFileDeleted()
    {
        using var dir = new AuditDir();
        var file = dir.File();
        var log = new AuditLog(new AuditOptions { File = file, Keep = 0 }, maxBytes: 2 * LineBytes, capacity: 100, logger: null, timeProvider: null, startGate: null);
        for (var n = 1000; n < 1005; n++)
        {
            log.Write(Records.Numbered(n));
        }

        await log.DisposeAsync();

        Assert.Equal(Seq(1004, 1), Sequences(file));
        Assert.Equal([file], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task Write_ConcurrentWriters_LoseNothing()
    {
        using var dir = new AuditDir();
        const int Writers = 8;
        const int Each = 5000;
        var log = new AuditLog(new AuditOptions { File = dir.File() }, capacity: Writers * Each);
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            start.Wait();
            for (var i = 0; i < Each; i++)
            {
                log.Write(Records.Numbered((w * Each) + i));
            }
        })).ToArray();
        start.Set();
        await Task.WhenAll(tasks);
        await log.DisposeAsync();

        var sequences = Sequences(dir.File());
        Assert.Equal(Writers * Each, sequences.Count);
        Assert.Equal(Seq(0, Writers * Each), sequences.Order());
        Assert.Equal(0, log.Dropped);
        Assert.Equal(Writers * Each, log.Written);
    }

    [Fact]
    public async Task Write_QueueFull_DropsAreCountedAndReportedOnce()
    {
        using var dir = new AuditDir();
        using var logger = new LogCapture();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 2, 0, 0, TimeSpan.Zero));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new AuditLog(new AuditOptions { File = dir.File() }, maxBytes: 1 << 20, capacity: 4, logger.Logger, clock, gate.Task);
        for (var n = 1000; n < 1010; n++)
        {
            log.Write(Records.Numbered(n));
        }

        Assert.Equal(6, log.Dropped);
        gate.SetResult();
        await log.DisposeAsync();

        var lines = Records.Lines(dir.File());
        Assert.Equal(
            [
                AuditJson.ToLine(Records.Numbered(1000)),
                """{"time":"2026-11-23T02:00:00.0000000Z","kind":"audit-dropped","detail":"the audit queue was full","dropped":6}""",
                AuditJson.ToLine(Records.Numbered(1001)),
                AuditJson.ToLine(Records.Numbered(1002)),
                AuditJson.ToLine(Records.Numbered(1003)),
            ],
            lines);
        Assert.Equal(4, log.Written);
        var warning = Assert.Single(logger.Events);
        Assert.Equal((8003, LogLevel.Warning, $"audit log {dir.File()}: the queue was full, 6 records were dropped"), warning);
    }

    [Fact]
    public async Task Write_QueueWithRoom_NothingDropped()
    {
        using var dir = new AuditDir();
        using var logger = new LogCapture();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The positive control of the drop test: the same stalled writer with room for every record.
        var log = new AuditLog(new AuditOptions { File = dir.File() }, maxBytes: 1 << 20, capacity: 10, logger.Logger, null, gate.Task);
        for (var n = 1000; n < 1010; n++)
        {
            log.Write(Records.Numbered(n));
        }

        gate.SetResult();
        await log.DisposeAsync();

        Assert.Equal(Seq(1000, 10), Sequences(dir.File()));
        Assert.Equal(0, log.Dropped);
        Assert.Empty(logger.Events);
    }

    [Fact]
    public async Task Write_AfterDispose_CountedAsDropped()
    {
        using var dir = new AuditDir();
        var log = new AuditLog(new AuditOptions { File = dir.File() });
        await log.DisposeAsync();

        log.Write(Records.Numbered(1000));

        Assert.Equal(1, log.Dropped);
        Assert.Empty(Records.Lines(dir.File()));
    }

    [Fact]
    public async Task Write_UnwritableDirectory_LogsOneErrorAndNeverThrows()
    {
        using var dir = new AuditDir();

        // A regular file where the directory should be: fails even for root.
        var blocker = dir.File("not-a-directory");
        await File.WriteAllTextAsync(blocker, "x");
        var file = Path.Join(blocker, "audit.jsonl");
        using var logger = new LogCapture();
        var log = new AuditLog(new AuditOptions { File = file }, logger.Logger);

        for (var n = 1000; n < 1003; n++)
        {
            log.Write(Records.Numbered(n));
        }

        await log.DisposeAsync();

        Assert.Equal(3, log.Lost);
        Assert.Equal(0, log.Written);
        Assert.True(log.Errors >= 1);
        var error = Assert.Single(logger.Events);
        Assert.Equal(8001, error.EventId);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.StartsWith($"audit log {file}: cannot write, audit records are being lost: ", error.Message);
    }

    [Fact]
    public async Task Write_WritableDirectory_LogsNothing()
    {
        using var dir = new AuditDir();
        using var logger = new LogCapture();

        // The positive control of the unwritable test: the same writes into a directory that can be created.
        var file = Path.Join(dir.Path, "not-a-directory", "audit.jsonl");
        var log = new AuditLog(new AuditOptions { File = file }, logger.Logger);
        for (var n = 1000; n < 1003; n++)
        {
            log.Write(Records.Numbered(n));
        }

        await log.DisposeAsync();

        Assert.Equal(Seq(1000, 3), Sequences(file));
        Assert.Equal(0, log.Lost);
        Assert.Empty(logger.Events);
    }

    private static long[] Seq(long start, int count) => [.. Enumerable.Range(0, count).Select(i => start + i)];

    private static List<long> Sequences(string file) =>
        [.. Records.Lines(file).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("sequence").GetInt64())];
}
