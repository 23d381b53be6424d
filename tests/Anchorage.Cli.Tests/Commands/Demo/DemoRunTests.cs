using Anchorage.Cli.Commands.Demo.Internal;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Tests.Commands.Demo;

public sealed class DemoRunTests
{
    [Fact]
    public void Steps_InOrder_OneNamePerPositionAsSabotageAndTheFailureLineUseThem()
    {
        // A step's number is its position: the list is the numbering, so no two steps share one.
        string[] expected =
        [
            "servers", "federation", "policy", "service", "agents", "workloads", "allowed-call",
            "rogue", "transparent", "policy-denied", "rotation", "revocation", "audit", "inventory",
        ];

        Assert.Equal(expected, DemoRun.Steps.Select(s => s.Name));
        Assert.Equal(DemoRun.Steps.Count, DemoRun.Steps.Select(s => s.Title).Distinct(StringComparer.Ordinal).Count());
        Assert.All(DemoRun.Steps, s => Assert.False(string.IsNullOrWhiteSpace(s.Title)));
    }

    [Fact]
    public async Task PollUntil_ConditionHoldsOnTheThirdCheck_ReturnsWithoutThrowing()
    {
        var checks = 0;

        await Poll.UntilAsync(() => ++checks == 3, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(1), () => "never", CancellationToken.None);

        Assert.Equal(3, checks);
    }

    [Fact]
    public async Task PollUntil_ConditionNeverHolds_ThrowsDemoStepExceptionWithTheMessageComputedAtTheDeadline()
    {
        var checks = 0;

        var ex = await Assert.ThrowsAsync<DemoStepException>(() =>
            Poll.UntilAsync(() => ++checks < 0, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(5), () => $"gave up after {checks} checks", CancellationToken.None));

        Assert.True(checks > 1, $"{checks} checks");
        Assert.Equal($"gave up after {checks} checks", ex.Message);
    }

    [Fact]
    public async Task PollUntil_ConditionThrows_TheExceptionStopsTheWaitAtOnce()
    {
        var ex = await Assert.ThrowsAsync<DemoStepException>(() =>
            Poll.UntilAsync(_ => Task.FromException<bool>(new DemoStepException("the server exited with 1")), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), () => "timed out", CancellationToken.None));

        Assert.Equal("the server exited with 1", ex.Message);
    }
}
