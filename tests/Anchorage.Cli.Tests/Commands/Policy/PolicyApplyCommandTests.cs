using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Testing;
using Grpc.Core;
using CommonPolicy = Anchorage.Protos.Common.V1.Policy;

namespace Anchorage.Cli.Tests.Commands.Policy;

/// <summary><c>policy apply -f FILE</c> against the recording admin API: the request, the output, the exit codes.</summary>
public sealed class PolicyApplyCommandTests : AdminTestBase, IDisposable
{
    private const string Text = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules: []

        """;

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string text)
    {
        var path = Path.Combine(_dir.Path, "policy.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(true, "policy acme applied: version 7\n")]
    [InlineData(false, "policy acme unchanged: version 7\n")]
    public async Task Apply_Accepted_SendsTextAndSourcePrintsVersion(bool changed, string expected)
    {
        var path = Write(Text);
        Api.On<ApplyPolicyRequest, ApplyPolicyResponse>("ApplyPolicy", r => new ApplyPolicyResponse
        {
            Policy = new CommonPolicy { Name = "acme", Yaml = r.Yaml, Version = 7 },
            Changed = changed,
        });

        var result = await RunAsync("policy", "apply", "-f", path);

        Assert.Equal((0, expected, ""), (result.ExitCode, result.Out, result.Error));
        var request = Api.Only<ApplyPolicyRequest>("ApplyPolicy");
        Assert.Equal(Text, request.Yaml);
        Assert.Equal(path, request.Source);
    }

    [Fact]
    public async Task Apply_ServerFindsErrors_EachOnItsOwnLineExit2()
    {
        var path = Write(Text);
        Api.Fail("ApplyPolicy", StatusCode.InvalidArgument, $"{path}:5: spec.rules[0].action: \"maybe\" is not allow or deny\n{path}:7: spec.rules[0].to: required");

        var result = await RunAsync("policy", "apply", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Out);
        Assert.Equal(
            $"error: {path}:5: spec.rules[0].action: \"maybe\" is not allow or deny\nerror: {path}:7: spec.rules[0].to: required\n",
            result.Error);
    }

    [Fact]
    public async Task Apply_OtherRefusal_OneLineAsEveryAdminVerb()
    {
        var path = Write(Text);
        Api.Fail("ApplyPolicy", StatusCode.Unavailable, "datastore is unavailable");

        var result = await RunAsync("policy", "apply", "-f", path);

        Assert.Equal((2, "error: unavailable: datastore is unavailable\n"), (result.ExitCode, result.Error));
    }

    [Fact]
    public async Task Apply_MissingFile_Exit2NothingSent()
    {
        var path = Path.Combine(_dir.Path, "absent.yaml");

        var result = await RunAsync("policy", "apply", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: policy file {path}: Could not find file", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);
    }
}
