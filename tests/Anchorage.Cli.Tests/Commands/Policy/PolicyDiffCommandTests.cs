using Anchorage.Foundation.Audit;

namespace Anchorage.Cli.Tests.Commands.Policy;

/// <summary><c>policy diff --policy NEW --audit FILE...</c> (issue 15 item 5) on an audit file with known outcomes.</summary>
public sealed class PolicyDiffCommandTests : IDisposable
{
    private const string Current = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: web-to-payments
              action: allow
              from: { spiffeId: "spiffe://acme.corp/web", selectors: ["unix:uid:1000"] }
              to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
            - name: batch-to-payments
              action: allow
              from: { spiffeId: "spiffe://acme.corp/batch" }
              to:   { trustDomain: payments.acme.corp }
        """;

    // Narrowed: batch loses payments; web keeps it; a denied flow (reports) becomes allowed.
    private const string Candidate = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: web-to-payments
              action: allow
              from: { spiffeId: "spiffe://acme.corp/web", selectors: ["unix:uid:1000"] }
              to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
            - name: reports-inbound
              action: allow
              from: { spiffeId: "spiffe://partner.example/reports" }
              to:   { spiffeId: "spiffe://acme.corp/reports" }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("anchorage-policy-diff-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static AuditRecord Connection(string direction, string decision, string local, string peer, string? rule, string? reason = null, string? remote = null) => new()
    {
        Time = new DateTimeOffset(2026, 12, 7, 4, 0, 0, TimeSpan.Zero),
        Kind = AuditKinds.Connection,
        ConnectionId = Guid.NewGuid().ToString("N"),
        Direction = direction,
        Listener = direction == "outbound" ? "payments" : "reports",
        Decision = decision,
        Reason = reason,
        Rule = rule,
        SpiffeId = local,
        PeerSpiffeId = peer,
        Remote = remote,
        Process = direction == "outbound" ? new AuditProcess(42, "/usr/bin/app", null, 1000, 1000, 1) : null,
    };

    private string AuditFile()
    {
        var records = new List<AuditRecord>();
        for (var i = 0; i < 3; i++)
        {
            records.Add(Connection("outbound", "allow", "spiffe://acme.corp/web", "spiffe://payments.acme.corp/api", "web-to-payments", remote: "10.0.0.5:8443"));
        }

        for (var i = 0; i < 2; i++)
        {
            records.Add(Connection("outbound", "allow", "spiffe://acme.corp/batch", "spiffe://payments.acme.corp/api", "batch-to-payments", remote: "10.0.0.5:8443"));
        }

        records.Add(Connection("inbound", "deny", "spiffe://acme.corp/reports", "spiffe://partner.example/reports", "default", reason: "policy", remote: "192.0.2.7:50123"));
        // Not a policy decision: skipped whatever the candidate says.
        records.Add(Connection("outbound", "deny", "spiffe://acme.corp/batch", "spiffe://payments.acme.corp/api", null, reason: "peer-verification", remote: "10.0.0.5:8443"));
        return Write("audit.jsonl", string.Join('\n', records.Select(AuditJson.ToLine)) + "\n");
    }

    [Fact]
    public void Diff_NarrowedPolicy_ListsEveryChangedFlowWithCountsAndRules_Exit1()
    {
        var result = CliRunner.Run(["policy", "diff", "--policy", Write("new.yaml", Candidate), "--audit", AuditFile()]);

        Assert.Equal((1, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal(
            "deny -> allow  inbound spiffe://partner.example/reports -> spiffe://acme.corp/reports  x1  rule default -> reports-inbound\n" +
            "allow -> deny  outbound spiffe://acme.corp/batch -> spiffe://payments.acme.corp/api:8443  x2  rule batch-to-payments -> default\n" +
            "2 flow(s) change (3 of 6 recorded decision(s))\n",
            result.Out);
    }

    [Fact]
    public void Diff_SamePolicyAsRecorded_NothingChanges_Exit0()
    {
        var result = CliRunner.Run(["policy", "diff", "--policy", Write("same.yaml", Current), "--audit", AuditFile()]);

        Assert.Equal((0, "0 flow(s) change (0 of 6 recorded decision(s))\n"), (result.ExitCode, result.Out));
    }

    [Fact]
    public void Diff_AuditLineNotJson_Exit2WithFileAndLine()
    {
        var bad = Write("bad.jsonl", "{\"time\":\"2026-12-07T04:00:00Z\",\"kind\":\"connection\"}\nnot json\n");

        var result = CliRunner.Run(["policy", "diff", "--policy", Write("new.yaml", Candidate), "--audit", bad]);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: {bad}:2: not an audit record: ", result.Error, StringComparison.Ordinal);
    }

    // The candidate rules in shadow: what enforcing them would break is recorded as would-deny.
    private static string Shadow(string policy) => policy.Replace("spec:\n", "spec:\n  mode: audit\n", StringComparison.Ordinal);

    [Fact]
    public void Diff_CandidateInAuditMode_ChangedFlowsAreWouldDeny()
    {
        var result = CliRunner.Run(["policy", "diff", "--policy", Write("shadow.yaml", Shadow(Candidate)), "--audit", AuditFile()]);

        Assert.Equal((1, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal(
            "deny -> allow  inbound spiffe://partner.example/reports -> spiffe://acme.corp/reports  x1  rule default -> reports-inbound\n" +
            "allow -> would-deny  outbound spiffe://acme.corp/batch -> spiffe://payments.acme.corp/api:8443  x2  rule batch-to-payments -> default\n" +
            "2 flow(s) change (3 of 6 recorded decision(s))\n",
            result.Out);
    }

    [Fact]
    public void Diff_RecordedWouldDeny_EnforcingTheSameRulesListsThemAsDeny()
    {
        // Recorded under the candidate in shadow: batch would be denied, web allowed.
        var records = new[]
        {
            Connection("outbound", "allow", "spiffe://acme.corp/web", "spiffe://payments.acme.corp/api", "web-to-payments", remote: "10.0.0.5:8443"),
            Connection("outbound", "would-deny", "spiffe://acme.corp/batch", "spiffe://payments.acme.corp/api", "default", remote: "10.0.0.5:8443"),
            Connection("outbound", "would-deny", "spiffe://acme.corp/batch", "spiffe://payments.acme.corp/api", "default", remote: "10.0.0.5:8443"),
        };
        var audit = Write("shadow.jsonl", string.Join('\n', records.Select(AuditJson.ToLine)) + "\n");

        var enforced = CliRunner.Run(["policy", "diff", "--policy", Write("new.yaml", Candidate), "--audit", audit]);
        var same = CliRunner.Run(["policy", "diff", "--policy", Write("shadow.yaml", Shadow(Candidate)), "--audit", audit]);

        Assert.Equal(
            (1, "would-deny -> deny  outbound spiffe://acme.corp/batch -> spiffe://payments.acme.corp/api:8443  x2  rule default -> default\n" +
                "1 flow(s) change (2 of 3 recorded decision(s))\n"),
            (enforced.ExitCode, enforced.Out));

        // Positive control: the shadow policy replayed on its own records changes nothing.
        Assert.Equal((0, "0 flow(s) change (0 of 3 recorded decision(s))\n"), (same.ExitCode, same.Out));
    }
}
