using Anchorage.Foundation.Audit;
using Anchorage.Testing;

namespace Anchorage.Cli.Tests.Commands.Audit;

/// <summary>Issue 12 item 5: <c>audit trace ID --file A --file B</c> joins the sending and receiving gates' records of one connection.</summary>
public sealed class TraceCommandTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 1, 0, 0, TimeSpan.Zero);
    private static readonly AuditProcess Web = new(4242, "/usr/bin/web", "ab12", 1000, 1000, 77);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string name, params AuditRecord[] records)
    {
        var path = Path.Join(_dir.Path, name);
        File.WriteAllLines(path, records.Select(AuditJson.ToLine));
        return path;
    }

    private static AuditRecord Sent(int second, string kind, string id) => new()
    {
        Time = T0.AddSeconds(second),
        Kind = kind,
        ConnectionId = id,
        Direction = "outbound",
        Decision = kind == AuditKinds.Connection ? "allow" : null,
        Process = Web,
        SpiffeId = "spiffe://acme.corp/web",
        PeerSpiffeId = "spiffe://payments.acme.corp/api",
    };

    private static AuditRecord Received(int second, string kind, string id, string sender, AuditProcess? origin) => new()
    {
        Time = T0.AddSeconds(second),
        Kind = kind,
        ConnectionId = id,
        Direction = "inbound",
        Decision = kind == AuditKinds.Connection ? "allow" : null,
        SpiffeId = "spiffe://payments.acme.corp/api",
        PeerSpiffeId = "spiffe://acme.corp/web",
        PeerConnectionId = sender,
        Origin = origin,
        OriginAgent = origin is null ? null : "spiffe://acme.corp/agent/n1",
    };

    [Fact]
    public void Trace_SenderId_JoinsBothGatesInTimeOrder_OriginMatches()
    {
        var a = Write("a.jsonl", Sent(0, AuditKinds.Connection, "c3"), Sent(1, AuditKinds.Connection, "c4"), Sent(5, AuditKinds.ConnectionClosed, "c3"));
        var b = Write("b.jsonl", Received(2, AuditKinds.Connection, "c9", "c3", Web), Received(3, AuditKinds.Connection, "c3", "c1", Web), Received(4, AuditKinds.ConnectionClosed, "c9", "c3", Web));

        var result = CliRunner.Run("audit", "trace", "c3", "--file", a, "--file", b);

        Assert.Equal(0, result.ExitCode);
        var lines = result.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("connection c3: 4 records in 2 files", lines[0]);
        Assert.StartsWith($"  {a}: 2026-11-23T01:00:00.000Z connection outbound allow pid=4242", lines[1], StringComparison.Ordinal);
        Assert.StartsWith($"  {b}: 2026-11-23T01:00:02.000Z connection inbound allow peerConn=c3 origin.pid=4242", lines[2], StringComparison.Ordinal);
        Assert.StartsWith($"  {b}: 2026-11-23T01:00:04.000Z connection-closed inbound", lines[3], StringComparison.Ordinal);
        Assert.StartsWith($"  {a}: 2026-11-23T01:00:05.000Z connection-closed outbound", lines[4], StringComparison.Ordinal);
        Assert.Equal("origin: verified (signed by spiffe://acme.corp/agent/n1), the process the sending gate recorded: pid 4242 /usr/bin/web", lines[5]);
        Assert.Equal(6, lines.Length);
    }

    [Fact]
    public void Trace_ReceiverId_FindsTheSender_OriginDiffers_Said()
    {
        var a = Write("a.jsonl", Sent(0, AuditKinds.Connection, "c3"));
        var b = Write("b.jsonl", Received(2, AuditKinds.Connection, "c9", "c3", Web with { Exe = "/usr/bin/bash", Sha256 = "ff00" }));

        var result = CliRunner.Run("audit", "trace", "c9", "--file", a, "--file", b);

        Assert.Equal(0, result.ExitCode);
        var lines = result.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("connection c9: 2 records in 2 files", lines[0]);
        Assert.Equal("origin: verified (signed by spiffe://acme.corp/agent/n1) but differs from the sending gate's process in exe, sha256", lines[^1]);
    }

    [Fact]
    public void Trace_NoProvenance_Said_UnknownId_ExitOne()
    {
        var a = Write("a.jsonl", Sent(0, AuditKinds.Connection, "c3"));
        var b = Write("b.jsonl", Received(2, AuditKinds.Connection, "c9", "c3", null));

        Assert.Equal("origin: not verified (the connection carried no provenance)", CliRunner.Run("audit", "trace", "c3", "--file", a, "--file", b).Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')[^1]);

        var missing = CliRunner.Run("audit", "trace", "c77", "--file", a, "--file", b);
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"no record of connection c77 in {a}, {b}\n", missing.Out.ReplaceLineEndings("\n"));
    }
}
