using Anchorage.Server.Config;
using Anchorage.Server.Federation;

namespace Anchorage.Server.Tests.Config;

/// <summary><c>federation.requireApproval</c> and <c>governance: { onReviewDue, unusedAfter }</c> (issue 15).</summary>
public sealed class ServerConfigLoaderGovernanceTests
{
    [Fact]
    public void Parse_NoGovernanceKeys_ApprovalRequiredReviewFlaggedUnusedAfter30d()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\n");

        Assert.True(result.IsValid, string.Join('\n', result.ErrorLines));
        Assert.True(result.Value.Federation.RequireApproval);
        Assert.Equal(ReviewDueAction.Flag, result.Value.Governance.OnReviewDue);
        Assert.Equal(TimeSpan.FromDays(30), result.Value.Governance.UnusedAfter);
        var rules = result.Value.Governance.ApprovalRules(result.Value.Federation);
        Assert.Equal((true, ReviewDueAction.Flag), (rules.RequireApproval, rules.OnReviewDue));
    }

    [Fact]
    public void Parse_EveryGovernanceKey_Read()
    {
        var result = ServerConfigLoader.Parse(
            "trustDomain: acme.corp\nfederation:\n  requireApproval: false\ngovernance:\n  onReviewDue: suspend\n  unusedAfter: 14d\n");

        Assert.True(result.IsValid, string.Join('\n', result.ErrorLines));
        Assert.False(result.Value.Federation.RequireApproval);
        Assert.Equal(ReviewDueAction.Suspend, result.Value.Governance.OnReviewDue);
        Assert.Equal(TimeSpan.FromDays(14), result.Value.Governance.UnusedAfter);
    }

    public static TheoryData<string, string[]> Invalid => new()
    {
        { "trustDomain: acme.corp\nfederation:\n  requireApproval: maybe\n", ["server.yaml:3: federation.requireApproval: \"maybe\" must be true or false"] },
        { "trustDomain: acme.corp\ngovernance:\n  onReviewDue: ignore\n", ["server.yaml:3: governance.onReviewDue: \"ignore\" is not one of flag, suspend"] },
        { "trustDomain: acme.corp\ngovernance:\n  unusedAfter: 10s\n", ["server.yaml:3: governance.unusedAfter: must be at least 1m"] },
        { "trustDomain: acme.corp\ngovernance:\n  unused: 10d\n", ["server.yaml:3: governance.unused: unknown setting"] },
        {
            "trustDomain: acme.corp\ngovernance:\n  onReviewDue: no\n  unusedAfter: soon\n",
            ["server.yaml:3: governance.onReviewDue: \"no\" is not one of flag, suspend", "server.yaml:4: governance.unusedAfter: \"soon\" is not a duration (e.g. 90s, 5m, 24h)"]
        },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Parse_InvalidGovernance_EveryErrorWithKeyPath(string yaml, string[] expected)
    {
        var result = ServerConfigLoader.Parse(yaml);

        Assert.False(result.IsValid);
        Assert.Equal(expected, result.ErrorLines);
    }
}
