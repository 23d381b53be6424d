using System.Threading.Channels;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Testing;

namespace Anchorage.Cli.Tests.Commands.Audit;

public sealed class TailCommandTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 1, 0, 0, TimeSpan.Zero);

    private readonly TempDir _dir = new();

    private string File => Path.Join(_dir.Path, "audit.jsonl");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Tail_Default_PrintsTheLastTenAsSummaries()
    {
        WriteLines([.. Enumerable.Range(0, 12).Select(i => AuditJson.ToLine(Policy(i)))]);

        var result = CliRunner.Run("audit", "tail", "--file", File);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            Enumerable.Range(2, 10).Select(i => $"2026-11-23T01:00:{i:00}.000Z policy applied seq={i}"),
            Lines(result.Out));
        Assert.Equal(string.Empty, result.Error);
    }

    [Fact]
    public void Tail_ConnectionRecord_SummaryNamesProcessIdentitiesAndReason()
    {
        WriteLines([AuditJson.ToLine(Deny(4242, "/usr/bin/rogue"))]);

        var result = CliRunner.Run("audit", "tail", "--file", File);

        Assert.Equal(
            "2026-11-23T01:00:00.000Z connection outbound deny rule=default policy=7 listener=payments pid=4242 exe=/usr/bin/rogue uid=1000 "
            + "- -> spiffe://payments.acme.corp/api remote=127.0.0.1:8443 reason=unattested\n",
            result.Out);
    }

    [Fact]
    public void Tail_ControlCharactersInValues_PrintedAsQuestionMarks()
    {
        WriteLines([AuditJson.ToLine(Deny(1, "/tmp/\u001b[2Jevil\u202Etxt.exe"))]);

        var result = CliRunner.Run("audit", "tail", "--file", File);

        Assert.Contains(" exe=/tmp/?[2Jevil?txt.exe ", result.Out);
        Assert.DoesNotContain('\u001b', result.Out);
    }

    [Fact]
    public void Tail_LineBreaksInValues_OneRecordPrintsAsOneLine()
    {
        // Written raw: a peer's error text or a workload's path can carry any line break, and the kind is read back as written.
        WriteLines([
            """{"time":"2026-11-23T01:00:00Z","kind":"policy\n2026-11-23T01:00:01.000Z policy applied seq=99","detail":"a\r\nb\u2028c\u2029d\u0085e"}""",
            AuditJson.ToLine(Policy(1)),
        ]);

        var result = CliRunner.Run("audit", "tail", "--file", File);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            [
                "2026-11-23T01:00:00.000Z \"policy?2026-11-23T01:00:01.000Z policy applied seq=99\" detail=a??b?c?d?e",
                "2026-11-23T01:00:01.000Z policy applied seq=1",
            ],
            result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, result.Out.Count(c => c == '\n'));
        Assert.DoesNotContain('\u2028', result.Out);
    }

    [Fact]
    public void Tail_N_PrintsThatMany()
    {
        WriteLines([.. Enumerable.Range(0, 5).Select(i => AuditJson.ToLine(Policy(i)))]);

        Assert.Equal(["2026-11-23T01:00:03.000Z policy applied seq=3", "2026-11-23T01:00:04.000Z policy applied seq=4"], Lines(CliRunner.Run("audit", "tail", "--file", File, "-n", "2").Out));
        Assert.Empty(Lines(CliRunner.Run("audit", "tail", "--file", File, "-n", "0").Out));
    }

    [Fact]
    public void Tail_OutputJson_PrintsTheLinesAsWritten()
    {
        string[] lines = [AuditJson.ToLine(Policy(1)), AuditJson.ToLine(Deny(7, "/bin/x"))];
        WriteLines(lines);

        var result = CliRunner.Run("audit", "tail", "--file", File, "--output", "json");

        Assert.Equal(lines, Lines(result.Out));
    }

    [Theory]
    [InlineData("decision=deny", new[] { 2, 3 })]
    [InlineData("process.pid=7", new[] { 3 })]
    [InlineData("process.exe=/bin/x", new[] { 2, 3 })]
    [InlineData("kind=policy", new[] { 0, 1 })]
    [InlineData("decision=allow", new int[0])]
    [InlineData("process.pid=8", new int[0])]
    [InlineData("nosuchfield=1", new int[0])]
    public void Tail_Filter_PrintsOnlyMatchingRecords(string filter, int[] expected)
    {
        string[] lines = [AuditJson.ToLine(Policy(0)), AuditJson.ToLine(Policy(1)), AuditJson.ToLine(Deny(6, "/bin/x")), AuditJson.ToLine(Deny(7, "/bin/x"))];
        WriteLines(lines);

        var result = CliRunner.Run("audit", "tail", "--file", File, "--filter", filter, "-o", "json");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(expected.Select(i => lines[i]), Lines(result.Out));
    }

    [Fact]
    public void Tail_SeveralFilters_AllMustMatch()
    {
        string[] lines = [AuditJson.ToLine(Deny(6, "/bin/x")), AuditJson.ToLine(Deny(7, "/bin/x")), AuditJson.ToLine(Deny(7, "/bin/y"))];
        WriteLines(lines);

        var both = CliRunner.Run("audit", "tail", "--file", File, "--filter", "decision=deny", "--filter", "process.pid=7", "--filter", "process.exe=/bin/y", "-o", "json");

        Assert.Equal([lines[2]], Lines(both.Out));
    }

    [Fact]
    public void Tail_FilterOnList_MatchesAnItem()
    {
        var fetch = new AuditRecord { Time = T0, Kind = AuditKinds.FederationFetch, AuthoritiesAdded = ["k1", "k2"] };
        WriteLines([AuditJson.ToLine(fetch)]);

        Assert.Single(Lines(CliRunner.Run("audit", "tail", "--file", File, "--filter", "authoritiesAdded=k2").Out));
        Assert.Empty(Lines(CliRunner.Run("audit", "tail", "--file", File, "--filter", "authoritiesAdded=k3").Out));
    }

    [Fact]
    public void Tail_MalformedLine_ReportedWithFileAndLineAndSkipped()
    {
        WriteLines([AuditJson.ToLine(Policy(0)), "not json", """{"kind":"policy"}""", """{"time":"soon","kind":"policy"}""", AuditJson.ToLine(Policy(4))]);

        var result = CliRunner.Run("audit", "tail", "--file", File);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["2026-11-23T01:00:00.000Z policy applied seq=0", "2026-11-23T01:00:04.000Z policy applied seq=4"], Lines(result.Out));
        Assert.Equal(
            [
                $"error: {File}:2: not an audit record (a JSON object with time and kind), skipped",
                $"error: {File}:3: not an audit record (a JSON object with time and kind), skipped",
                $"error: {File}:4: not an audit record (a JSON object with time and kind), skipped",
            ],
            Lines(result.Error));
    }

    [Fact]
    public void Tail_MissingFile_ExitsTwo()
    {
        var missing = Path.Join(_dir.Path, "missing.jsonl");

        var result = CliRunner.Run("audit", "tail", "--file", missing);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: cannot read {missing}: file not found\n", result.Error);
    }

    [Theory]
    [InlineData("decision", "error: --filter \"decision\" must be key=value, e.g. decision=deny or process.pid=123")]
    [InlineData("=deny", "error: --filter \"=deny\" must be key=value, e.g. decision=deny or process.pid=123")]
    [InlineData("process.=1", "error: --filter \"process.=1\" must be key=value, e.g. decision=deny or process.pid=123")]
    public void Tail_BadFilter_ExitsTwo(string filter, string message)
    {
        WriteLines([AuditJson.ToLine(Policy(0))]);

        var result = CliRunner.Run("audit", "tail", "--file", File, "--filter", filter);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message + "\n", result.Error);
        Assert.Equal(0, CliRunner.Run("audit", "tail", "--file", File, "--filter", "decision=deny").ExitCode);
    }

    [Fact]
    public async Task Tail_Follow_PrintsAppendedMatchingRecordsAndReportsMalformedOnes()
    {
        WriteLines([AuditJson.ToLine(Deny(1, "/bin/a"))]);
        using var output = new LineWriter();
        using var error = new LineWriter();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = CliApp.RunAsync(["audit", "tail", "--file", File, "--follow", "--filter", "decision=deny", "-o", "json"], new CliContext(output, error, TimeProvider.System), cts.Token);

        var first = await output.Lines.Reader.ReadAsync(cts.Token);
        await System.IO.File.AppendAllTextAsync(File, AuditJson.ToLine(Policy(1)) + "\n" + "garbage\n" + AuditJson.ToLine(Deny(2, "/bin/b")) + "\n", cts.Token);
        var second = await output.Lines.Reader.ReadAsync(cts.Token);
        var problem = await error.Lines.Reader.ReadAsync(cts.Token);
        await cts.CancelAsync();

        Assert.Equal(0, await run);
        Assert.Equal(AuditJson.ToLine(Deny(1, "/bin/a")), first);
        Assert.Equal(AuditJson.ToLine(Deny(2, "/bin/b")), second);
        Assert.Equal($"error: {File}:3: not an audit record (a JSON object with time and kind), skipped", problem);
        Assert.False(output.Lines.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Tail_Follow_FollowsTheAuditLogAcrossARotation()
    {
        // A real AuditLog rotating at 1 MiB: three 300 KB records fit, the fourth starts a new file.
        var big = new string('x', 300_000);
        WriteLines([AuditJson.ToLine(Policy(0))]);
        var log = new AuditLog(new AuditOptions { File = File, MaxSizeMB = 1, Keep = 2 });
        using var output = new LineWriter();
        using var error = new LineWriter();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = CliApp.RunAsync(["audit", "tail", "--file", File, "--follow", "-n", "1", "-o", "json"], new CliContext(output, error, TimeProvider.System), cts.Token);
        Assert.Equal(AuditJson.ToLine(Policy(0)), await output.Lines.Reader.ReadAsync(cts.Token));

        var written = Enumerable.Range(1, 4).Select(i => Policy(i) with { Detail = big }).Append(Policy(5)).ToArray();
        foreach (var record in written)
        {
            log.Write(record);
        }

        var seen = new List<string>();
        foreach (var _ in written)
        {
            seen.Add(await output.Lines.Reader.ReadAsync(cts.Token));
        }

        await log.DisposeAsync();
        await cts.CancelAsync();

        Assert.Equal(0, await run);
        Assert.Equal(written.Select(AuditJson.ToLine), seen);
        Assert.True(System.IO.File.Exists(File + ".1"), "the log rotated");
        Assert.Equal([AuditJson.ToLine(written[3]), AuditJson.ToLine(written[4])], System.IO.File.ReadAllLines(File));
        Assert.False(error.Lines.Reader.TryRead(out var problem), problem);
    }

    private static AuditRecord Policy(int i) => new() { Time = T0.AddSeconds(i), Kind = AuditKinds.Policy, Decision = "applied", Sequence = i };

    private static AuditRecord Deny(int pid, string exe) => new()
    {
        Time = T0,
        Kind = AuditKinds.Connection,
        Direction = "outbound",
        Listener = "payments",
        Decision = "deny",
        Reason = "unattested",
        Rule = "default",
        PolicyVersion = "7",
        Process = new AuditProcess(pid, exe, null, 1000, 1000, 1),
        PeerSpiffeId = "spiffe://payments.acme.corp/api",
        PeerTrustDomain = "payments.acme.corp",
        Remote = "127.0.0.1:8443",
    };

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private void WriteLines(string[] lines) => System.IO.File.WriteAllText(File, string.Join('\n', lines) + "\n");

    /// <summary>Hands each written line to the test as it is written.</summary>
    private sealed class LineWriter : StringWriter
    {
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();

        public override Task WriteLineAsync(string? value)
        {
            Lines.Writer.TryWrite(value ?? string.Empty);
            return Task.CompletedTask;
        }
    }
}
