using Anchorage.Server.WebConsole.Internal;
using AdminStatus = Anchorage.Protos.Admin.V1.FederationStatus;

namespace Anchorage.Server.Tests.WebConsole;

/// <summary>The one colour of a relationship's edge in the console's trust graph: the most urgent state that holds.</summary>
public sealed class ConsoleApiEdgeStateTests
{
    public static TheoryData<string, string[], string> States => new()
    {
        { "approved", [], "approved" },
        { "not-required", [], "approved" },
        { "approved", ["unused"], "unused" },
        { "pending", ["unused"], "pending" },
        { "pending", ["review-due"], "review-due" },
        { "approved", ["unused", "review-due", "slow-revocation"], "slow-revocation" },
        { "pending", ["stale", "unused", "never-fetched", "slow-revocation", "review-due"], "stale" },
        { "approved", ["expiring", "never-fetched", "no-rotation-overlap"], "approved" },
    };

    [Theory]
    [MemberData(nameof(States))]
    public void EdgeState_FlagsAndApproval_MostUrgentState(string approval, string[] flags, string expected)
    {
        var status = new AdminStatus { TrustDomain = "payments.acme.corp", Approval = approval };
        status.Flags.Add(flags);

        Assert.Equal(expected, ConsoleApi.EdgeState(status));
    }
}
