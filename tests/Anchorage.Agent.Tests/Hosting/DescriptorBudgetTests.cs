using Anchorage.Agent.Hosting.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Hosting;

public sealed class DescriptorBudgetTests
{
    [Theory]
    [InlineData(256, 64)]
    [InlineData(1024, 128)]
    [InlineData(524288, 1024)]
    public void Reserve_AnEighthBetween64And1024(long limit, long reserve) =>
        Assert.Equal(reserve, DescriptorBudget.Reserve(limit));

    [Fact]
    public void TryCharge_UntilOnlyTheReserveIsLeft_ThenRefusedUntilTheNextRead()
    {
        var time = new FakeTimeProvider();
        var open = 100L;
        var budget = new DescriptorBudget(time, () => open, () => 1000);

        // 1000 - 125 reserved - 100 open = 775 free: 258 connections at 3 descriptors each.
        var admitted = 0;
        while (budget.TryCharge())
        {
            admitted++;
        }

        Assert.Equal(258, admitted);

        // Within the refresh interval the charges stand even though the real count fell.
        open = 100;
        time.Advance(DescriptorBudget.RefreshInterval / 2);
        Assert.False(budget.TryCharge());

        // The next read sees the real count again.
        time.Advance(DescriptorBudget.RefreshInterval);
        Assert.True(budget.TryCharge());
    }

    [Fact]
    public void TryCharge_LimitLoweredBelowTheOpenCount_Refused()
    {
        var time = new FakeTimeProvider();
        var limit = 10_000L;
        var budget = new DescriptorBudget(time, () => 500, () => limit);
        Assert.True(budget.TryCharge());

        // An operator's prlimit --pid: honoured at once, not only at the next count of open descriptors.
        limit = 520;
        Assert.False(budget.TryCharge());
    }

    [Fact]
    public void TryCharge_OwnDescriptorDirectoryDoesNotOpen_Refused()
    {
        var budget = new DescriptorBudget(new FakeTimeProvider(), () => throw new IOException("Too many open files"), () => 1000);

        Assert.False(budget.TryCharge());
    }

    [Fact]
    public void TryCharge_ThisProcess_RoomLeft()
    {
        // Positive control against the real /proc/self/fd and getrlimit.
        Assert.True(new DescriptorBudget(TimeProvider.System).TryCharge());
    }
}
