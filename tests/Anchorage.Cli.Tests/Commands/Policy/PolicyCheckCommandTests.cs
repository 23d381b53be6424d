namespace Anchorage.Cli.Tests.Commands.Policy;

public sealed class PolicyCheckCommandTests : IDisposable
{
    private const string IssuePolicy = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: web-to-payments
              action: allow
              from: { spiffeId: "spiffe://acme.corp/web/*", selectors: ["unix:path:/usr/bin/web"] }
              to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
            - name: no-legacy
              action: deny
              from: { trustDomain: legacy.acme.corp }
              to:   { trustDomain: acme.corp }
        """;

    private const string OriginPolicy = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: batch-from-binary
              action: allow
              from: { spiffeId: "spiffe://acme.corp/batch", origin: { path: /usr/bin/batch, uid: 1000 } }
              to:   { spiffeId: "spiffe://payments.acme.corp/api" }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("anchorage-policy-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private CliResult Check(params string[] args) =>
        CliRunner.Run(["policy", "check", "--policy", Write("policy.yaml", IssuePolicy), .. args]);

    public static TheoryData<string[], int, string> Decisions => new()
    {
        { ["--from", "spiffe://acme.corp/web/1", "--selector", "unix:path:/usr/bin/web", "--to", "spiffe://payments.acme.corp/api", "--port", "8443"], 0, "allow web-to-payments\n" },
        // The same request without the process's selector, or to another port: no rule matches.
        { ["--from", "spiffe://acme.corp/web/1", "--to", "spiffe://payments.acme.corp/api", "--port", "8443"], 1, "deny default\n" },
        { ["--from", "spiffe://acme.corp/web/1", "--selector", "unix:path:/usr/bin/web", "--to", "spiffe://payments.acme.corp/api", "--port", "443"], 1, "deny default\n" },
        { ["--from", "spiffe://acme.corp/web/1", "--selector", "unix:path:/usr/bin/web", "--to", "spiffe://payments.acme.corp/api"], 1, "deny default\n" },
        { ["--from", "spiffe://legacy.acme.corp/x", "--to", "spiffe://acme.corp/db"], 1, "deny no-legacy\n" },
        { ["--from", "spiffe://acme.corp/x", "--to", "spiffe://acme.corp/db"], 1, "deny default\n" },
    };

    // from.origin: only a verified origin (--origin) with every named field matches.
    public static TheoryData<string[], int, string> OriginDecisions => new()
    {
        { ["--from", "spiffe://acme.corp/batch", "--origin", "path=/usr/bin/batch", "--origin", "uid=1000", "--to", "spiffe://payments.acme.corp/api"], 0, "allow batch-from-binary\n" },
        { ["--from", "spiffe://acme.corp/batch", "--origin", "path=/usr/bin/batch", "--origin", "uid=0", "--to", "spiffe://payments.acme.corp/api"], 1, "deny default\n" },
        { ["--from", "spiffe://acme.corp/batch", "--selector", "unix:path:/usr/bin/batch", "--selector", "unix:uid:1000", "--to", "spiffe://payments.acme.corp/api"], 1, "deny default\n" },
        { ["--from", "spiffe://acme.corp/batch", "--to", "spiffe://payments.acme.corp/api"], 1, "deny default\n" },
    };

    [Theory]
    [MemberData(nameof(OriginDecisions))]
    public void Check_Origin_MatchesOnlyTheVerifiedOrigin(string[] args, int exitCode, string output)
    {
        var result = CliRunner.Run(["policy", "check", "--policy", Write("origin.yaml", OriginPolicy), .. args]);

        Assert.Equal(output, result.Out.ReplaceLineEndings("\n"));
        Assert.Equal(string.Empty, result.Error);
        Assert.Equal(exitCode, result.ExitCode);
    }

    [Fact]
    public void Check_BadOrigin_UsageError()
    {
        var result = Check("--from", "spiffe://acme.corp/batch", "--origin", "pid=4", "--to", "spiffe://payments.acme.corp/api");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--origin \"pid=4\" is not sha256=HEX (64 lowercase hex digits), path=/absolute/path or uid=N", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Decisions))]
    public void Check_Request_PrintsDecisionAndExitCode(string[] args, int exitCode, string output)
    {
        var result = Check(args);

        Assert.Equal(output, result.Out.ReplaceLineEndings("\n"));
        Assert.Equal(string.Empty, result.Error);
        Assert.Equal(exitCode, result.ExitCode);
    }

    [Fact]
    public void Check_Explain_ListsRulesNamingEitherId()
    {
        var result = Check(
            "--from", "spiffe://acme.corp/web/1", "--selector", "unix:path:/usr/bin/web",
            "--to", "spiffe://payments.acme.corp/api", "--port", "443", "--explain");

        var lines = result.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("deny default", lines[0]);
        Assert.Matches(@"^policy acme version file:[0-9a-f]{12}: 2 rules, 1 naming spiffe://acme\.corp/web/1 or spiffe://payments\.acme\.corp/api$", lines[1]);
        Assert.Equal(
            [
                "  [0] allow web-to-payments: to.port: 443 is not 8443",
                "  no rule matched: denied by default",
            ],
            lines[2..]);
    }

    [Fact]
    public void Check_ExplainAllowedRequest_MarksTheDecidingRule()
    {
        var result = Check(
            "--from", "spiffe://acme.corp/web/1", "--selector", "unix:path:/usr/bin/web",
            "--to", "spiffe://payments.acme.corp/api", "--port", "8443", "--explain");

        var lines = result.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("allow web-to-payments", lines[0]);
        Assert.Equal(["  [0] allow web-to-payments: matched; decides (first matching allow, no deny matched)"], lines[2..]);
    }

    [Fact]
    public void Check_ExplainDeniedByRule_ShowsDenyAndNonMatchingRule()
    {
        var result = Check("--from", "spiffe://legacy.acme.corp/x", "--to", "spiffe://acme.corp/web/2", "--explain");

        var lines = result.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            [
                "deny no-legacy",
                lines[1],
                "  [1] deny no-legacy: matched; decides (a deny wins)",
            ],
            lines);
    }

    [Fact]
    public void Check_InvalidPolicy_PrintsEveryErrorAndExits2()
    {
        var bad = IssuePolicy
            .Replace("action: deny", "action: reject", StringComparison.Ordinal)
            .Replace("port: 8443", "port: 0", StringComparison.Ordinal)
            .Replace("spiffe://acme.corp/web/*", "spiffe://Acme.corp/web/*", StringComparison.Ordinal);
        var path = Write("bad.yaml", bad);

        var result = CliRunner.Run("policy", "check", "--policy", path, "--from", "spiffe://a/x", "--to", "spiffe://b/y");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        Assert.Equal(
            $"error: {path}:8: spec.rules[0].from.spiffeId: \"spiffe://Acme.corp/web/*\" is not a valid SPIFFE ID: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase\n"
            + $"error: {path}:9: spec.rules[0].to.port: \"0\" is not a port (a number from 1 to 65535)\n"
            + $"error: {path}:11: spec.rules[1].action: \"reject\" is not allow or deny\n",
            result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Check_MissingPolicyFile_Exits2()
    {
        var path = Path.Combine(_dir, "absent.yaml");

        var result = CliRunner.Run("policy", "check", "--policy", path, "--from", "spiffe://a/x", "--to", "spiffe://b/y");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: {path}: file not found\n", result.Error.ReplaceLineEndings("\n"));
    }

    public static TheoryData<string[], string> BadArguments => new()
    {
        { ["--from", "spiffe://Acme/x", "--to", "spiffe://acme.corp/y"], "error: --from \"spiffe://Acme/x\" is not a valid SPIFFE ID: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase\n" },
        { ["--from", "spiffe://acme.corp/x", "--to", "acme.corp/y"], "error: --to \"acme.corp/y\" is not a valid SPIFFE ID: scheme must be \"spiffe\" followed by \"://\"\n" },
        { ["--from", "spiffe://acme.corp/x", "--to", "spiffe://acme.corp/y", "--port", "0"], "error: --port 0 is not a port (a number from 1 to 65535)\n" },
        { ["--from", "spiffe://acme.corp/x", "--to", "spiffe://acme.corp/y", "--selector", "uid"], "error: --selector \"uid\" is not a selector (type:value, e.g. unix:uid:1000)\n" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Check_BadArgument_Exits2WithOneLine(string[] args, string error)
    {
        var control = Check("--from", "spiffe://acme.corp/x", "--to", "spiffe://acme.corp/y", "--port", "1", "--selector", "unix:uid:0");

        var result = Check(args);

        Assert.Equal(1, control.ExitCode);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(error, result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Check_RealProcess_ExitCodesAreAllow0Deny1()
    {
        var path = Write("proc.yaml", IssuePolicy);

        var allow = CliRunner.RunProcess("policy", "check", "--policy", path, "--from", "spiffe://acme.corp/web", "--selector", "unix:path:/usr/bin/web", "--to", "spiffe://payments.acme.corp/api", "--port", "8443");
        var deny = CliRunner.RunProcess("policy", "check", "--policy", path, "--from", "spiffe://legacy.acme.corp/web", "--to", "spiffe://acme.corp/api");

        Assert.Equal((0, "allow web-to-payments"), (allow.ExitCode, allow.Out.Trim()));
        Assert.Equal((1, "deny no-legacy"), (deny.ExitCode, deny.Out.Trim()));
    }

    [Fact]
    public void Check_AuditMode_PrintsWouldDenyExit0_EnforceDenies()
    {
        var shadow = Write("shadow.yaml", IssuePolicy.Replace("spec:\n", "spec:\n  mode: audit\n", StringComparison.Ordinal));
        string[] request = ["--from", "spiffe://legacy.acme.corp/x", "--to", "spiffe://acme.corp/web/1"];

        var audited = CliRunner.Run(["policy", "check", "--policy", shadow, .. request]);
        var explained = CliRunner.Run(["policy", "check", "--policy", shadow, .. request, "--explain"]);
        var enforced = Check(request);

        Assert.Equal((0, "would-deny no-legacy\n"), (audited.ExitCode, audited.Out));
        Assert.EndsWith("  the policy's spec.mode is audit: the gates let the connection through and record would-deny\n", explained.Out, StringComparison.Ordinal);
        Assert.Equal((1, "deny no-legacy\n"), (enforced.ExitCode, enforced.Out));
    }
}
