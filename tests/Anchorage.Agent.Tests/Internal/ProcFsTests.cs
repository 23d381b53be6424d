using System.Globalization;
using Anchorage.Agent.Internal;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Internal;

/// <summary>
/// <see cref="ProcFs.ReadGroups"/> (the attestor's supplementary groups, read without a FileStream)
/// against the real /proc, and its parser on crafted lines.
/// </summary>
public sealed class ProcFsTests
{
    [Fact]
    public void ReadGroups_ThisProcess_SameAsTheGroupsLineReadAsText()
    {
        var line = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        var expected = line["Groups:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(g => uint.Parse(g, CultureInfo.InvariantCulture));

        Assert.Equal(expected, ProcFs.ReadGroups(Environment.ProcessId));
    }

    [RootFact(setpriv: true)]
    public async Task ReadGroups_ChildWithThreeSupplementaryGroups_ThoseGroups()
    {
        using var child = ChildProcess.Start("/usr/bin/setpriv", "--groups=7,70,700", "/bin/sleep", "30");
        await Eventually.TrueAsync(() => new FileInfo($"/proc/{child.Pid}/exe").LinkTarget == "/usr/bin/sleep", "the child to exec sleep");

        Assert.Equal([7u, 70u, 700u], ProcFs.ReadGroups(child.Pid));
    }

    [Fact]
    public async Task ReadGroups_ProcessGone_FileNotFound()
    {
        int pid;
        using (var child = ChildProcess.Start("/bin/sleep", "30"))
        {
            pid = child.Pid;
            Assert.NotNull(ProcFs.ReadGroups(pid)); // positive control: readable while it runs
            await child.KillAsync();
        }

        var e = Assert.Throws<FileNotFoundException>(() => ProcFs.ReadGroups(pid));
        Assert.Equal($"cannot read /proc/{pid}/status: the process no longer exists", e.Message);
    }

    [Theory]
    [InlineData("Name:\tx\nGroups:\t4 24 27 \nNSpid:\t1\n", new uint[] { 4, 24, 27 })]
    [InlineData("Name:\tx\nGroups:\t\nNSpid:\t1\n", new uint[0])]
    [InlineData("Name:\tx\nNSpid:\t1\n", new uint[0])]
    [InlineData("Groups:\t4294967295", new uint[] { 4294967295 })]
    public void ParseGroups_Lines_TheIds(string status, uint[] expected) =>
        Assert.Equal(expected, ProcFs.ParseGroups(System.Text.Encoding.ASCII.GetBytes(status)));

    [Theory]
    [InlineData("Groups:\t4 x 27\n")]
    [InlineData("Groups:\t4294967296\n")]
    [InlineData("Groups:\t-1\n")]
    public void ParseGroups_NotAnId_FormatException(string status)
    {
        var e = Assert.Throws<FormatException>(() => ProcFs.ParseGroups(System.Text.Encoding.ASCII.GetBytes(status)));
        Assert.Equal("/proc/pid/status has a group id that is not a number", e.Message);
    }
}
