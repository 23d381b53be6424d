using System.Diagnostics;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Foundation.Selectors;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Attestation;

public sealed class UnixWorkloadAttestorTests : IDisposable
{
    private static readonly string Sleep = Processes.Run("realpath", "/bin/sleep").Trim();

    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public async Task AttestAsync_ChildSleep_ReturnsIdsNamesPathAndSha256()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);

        var attestation = await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None);

        Assert.Equal(child.Pid, attestation.ProcessId);
        var selectors = Strings(attestation);
        Assert.Contains("unix:uid:" + Id("-u"), selectors);
        Assert.Contains("unix:user:" + Id("-un"), selectors);
        Assert.Contains("unix:gid:" + Id("-g"), selectors);
        Assert.Contains("unix:group:" + Id("-gn"), selectors);
        Assert.Contains("unix:path:" + Sleep, selectors);
        Assert.Contains("unix:sha256:" + Sha256Sum(Sleep), selectors);
    }

    [Fact]
    public async Task AttestAsync_PeerReadFromSocket_ReturnsConnectingBinary()
    {
        var endpoint = new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "agent.sock"));
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(endpoint);
        listener.Listen();
        var psi = new ProcessStartInfo("curl") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--silent", "--max-time", "30", "--unix-socket", endpoint.ToString(), "http://localhost/" })
        {
            psi.ArgumentList.Add(arg);
        }

        using var curl = Process.Start(psi)!;
        try
        {
            using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
            using var peer = PeerCredentialsReader.Read(accepted);

            var selectors = Strings(await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None));

            var curlPath = Processes.Run("realpath", Processes.Run("which", "curl").Trim()).Trim();
            Assert.Contains("unix:path:" + curlPath, selectors);
            Assert.Contains("unix:sha256:" + Sha256Sum(curlPath), selectors);
            Assert.Contains("unix:uid:" + Id("-u"), selectors);
        }
        finally
        {
            curl.Kill();
            await curl.WaitForExitAsync();
        }
    }

    [RootFact(setpriv: true)]
    public async Task AttestAsync_ChildAsNobodyWithoutGroups_ReturnsNobodyAndNoSupplementaryGroups()
    {
        using var child = ChildProcess.Start("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", Sleep, "30");
        await child.WaitForExecAsync(Sleep);
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);

        var selectors = Strings(await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None));

        Assert.Contains("unix:uid:65534", selectors);
        Assert.Contains("unix:user:" + Processes.Run("id", "-nu", "65534").Trim(), selectors);
        Assert.Contains("unix:gid:65534", selectors);
        Assert.Contains("unix:group:" + GroupName(65534), selectors);
        Assert.DoesNotContain(selectors, s => s.StartsWith("unix:uid:0", StringComparison.Ordinal));
        Assert.DoesNotContain(selectors, s => s.StartsWith("unix:supplementary_", StringComparison.Ordinal));
    }

    [RootFact(setpriv: true)]
    public async Task AttestAsync_ChildWithSupplementaryGroups_ReturnsThemByIdAndName()
    {
        using var child = ChildProcess.Start("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--groups=1,2", Sleep, "30");
        await child.WaitForExecAsync(Sleep);
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);

        var selectors = Strings(await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None));

        Assert.Contains("unix:supplementary_gid:1", selectors);
        Assert.Contains("unix:supplementary_gid:2", selectors);
        Assert.Contains("unix:supplementary_group:" + GroupName(1), selectors);
        Assert.Contains("unix:supplementary_group:" + GroupName(2), selectors);
    }

    [Fact]
    public async Task AttestAsync_ProcessKilledAfterGathering_ThrowsExited()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);
        var attestor = new UnixWorkloadAttestor { AfterGathering = async _ => await child.KillAsync() };

        var e = await Assert.ThrowsAsync<WorkloadAttestationException>(
            async () => await attestor.AttestAsync(peer, CancellationToken.None));

        Assert.Equal($"process {child.Pid} exited during attestation", e.Message);
    }

    [Fact]
    public async Task AttestAsync_ProcessAliveAfterGathering_ReturnsSelectors()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);
        var hookRan = false;
        var attestor = new UnixWorkloadAttestor { AfterGathering = _ => { hookRan = true; return ValueTask.CompletedTask; } };

        var attestation = await attestor.AttestAsync(peer, CancellationToken.None);

        Assert.True(hookRan);
        Assert.Contains("unix:path:" + Sleep, Strings(attestation));
    }

    [Fact]
    public async Task AttestAsync_ProcessKilledBeforeAttestation_ThrowsExited()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);
        await child.KillAsync();

        var e = await Assert.ThrowsAsync<WorkloadAttestationException>(
            async () => await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None));

        Assert.Equal($"process {child.Pid} exited during attestation", e.Message);
    }

    [Fact]
    public async Task AttestAsync_SameBinaryTwice_HashesOnce()
    {
        var attestor = new UnixWorkloadAttestor();
        using var first = ChildProcess.Start("/bin/sleep", "30");
        using var second = ChildProcess.Start("/bin/sleep", "30");
        using var firstPeer = PeerCredentialsReader.FromProcessId(first.Pid);
        using var secondPeer = PeerCredentialsReader.FromProcessId(second.Pid);

        var a = Strings(await attestor.AttestAsync(firstPeer, CancellationToken.None));
        var b = Strings(await attestor.AttestAsync(secondPeer, CancellationToken.None));

        Assert.Equal(1, attestor.HashComputations);
        Assert.Equal(a.Single(s => s.StartsWith("unix:sha256:", StringComparison.Ordinal)), b.Single(s => s.StartsWith("unix:sha256:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AttestAsync_BinaryMtimeChanged_HashesAgain()
    {
        var copy = CopySleep();
        var attestor = new UnixWorkloadAttestor();
        using var child = ChildProcess.Start(copy, "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);

        var before = Strings(await attestor.AttestAsync(peer, CancellationToken.None));
        await attestor.AttestAsync(peer, CancellationToken.None);
        Assert.Equal(1, attestor.HashComputations);

        File.SetLastWriteTimeUtc(copy, new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc));
        var after = Strings(await attestor.AttestAsync(peer, CancellationToken.None));

        Assert.Equal(2, attestor.HashComputations);
        Assert.Contains("unix:path:" + copy, after);
        Assert.Contains("unix:sha256:" + Sha256Sum(Sleep), before);
        Assert.Contains("unix:sha256:" + Sha256Sum(Sleep), after);
    }

    [Fact]
    public async Task AttestAsync_CacheCapacityOneAndTwoBinaries_EvictsOldest()
    {
        var copy = CopySleep();
        var attestor = new UnixWorkloadAttestor(hashCacheCapacity: 1);
        using var original = ChildProcess.Start(Sleep, "30");
        using var copied = ChildProcess.Start(copy, "30");
        using var originalPeer = PeerCredentialsReader.FromProcessId(original.Pid);
        using var copiedPeer = PeerCredentialsReader.FromProcessId(copied.Pid);

        await attestor.AttestAsync(originalPeer, CancellationToken.None);
        await attestor.AttestAsync(copiedPeer, CancellationToken.None);
        await attestor.AttestAsync(copiedPeer, CancellationToken.None);
        Assert.Equal(2, attestor.HashComputations);

        await attestor.AttestAsync(originalPeer, CancellationToken.None);
        Assert.Equal(3, attestor.HashComputations);
    }

    [Fact]
    public async Task AttestAsync_BinaryDeletedWhileRunning_HashesButOmitsPath()
    {
        var copy = CopySleep();
        using var child = ChildProcess.Start(copy, "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);
        File.Delete(copy);

        var selectors = Strings(await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None));

        Assert.DoesNotContain(selectors, s => s.StartsWith("unix:path:", StringComparison.Ordinal));
        Assert.Contains("unix:sha256:" + Sha256Sum(Sleep), selectors);
    }

    [Fact]
    public void Constructor_ZeroCapacity_ThrowsArgumentOutOfRange() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new UnixWorkloadAttestor(hashCacheCapacity: 0));

    [Fact]
    public void WorkloadSelector_ToString_JoinsTypeAndValue() =>
        Assert.Equal("unix:uid:1000", new Selector("unix", "uid:1000").ToString());

    private static List<string> Strings(WorkloadAttestation attestation) =>
        attestation.Selectors.Select(s => s.ToString()).ToList();

    private static string Id(string flag) => Processes.Run("id", flag).Trim();

    private static string GroupName(int gid) => Processes.Run("getent", "group", gid.ToString()).Split(':')[0];

    private static string Sha256Sum(string path) => Processes.Run("sha256sum", path).Split(' ')[0];

    private string CopySleep()
    {
        var copy = Path.Combine(dir.Path, "sleep-copy");
        File.Copy(Sleep, copy);
        // File.Copy keeps the source's permission bits on Unix, so the copy stays executable.
        return copy;
    }
}
