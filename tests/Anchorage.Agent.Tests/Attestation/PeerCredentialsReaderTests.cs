using System.Diagnostics;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Internal;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Attestation;

public sealed class PeerCredentialsReaderTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public async Task Read_ClientInTestProcess_ReturnsOurPidUidGidAndPidFd()
    {
        using var listener = Listen(out var endpoint);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(endpoint);
        using var accepted = await listener.AcceptAsync();

        using var peer = PeerCredentialsReader.Read(accepted);

        Assert.Equal(Environment.ProcessId, peer.ProcessId);
        Assert.Equal(uint.Parse(Processes.Run("id", "-u").Trim()), peer.UserId);
        Assert.Equal(uint.Parse(Processes.Run("id", "-g").Trim()), peer.GroupId);
        Assert.Equal(ProcFs.ParseStartTime(File.ReadAllBytes("/proc/self/stat")), peer.StartTime);
        Assert.NotNull(peer.PidFd);
        Assert.True(PeerCredentialsReader.IsAlive(peer));
    }

    [Fact]
    public async Task Read_ClientInChildProcess_ReturnsChildPid()
    {
        using var listener = Listen(out var endpoint);
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

            Assert.Equal(curl.Id, peer.ProcessId);
            Assert.NotEqual(Environment.ProcessId, peer.ProcessId);
            Assert.Equal(ProcFs.TryReadStartTime(curl.Id), peer.StartTime);
            Assert.NotNull(peer.PidFd);
            Assert.True(PeerCredentialsReader.IsAlive(peer));
        }
        finally
        {
            curl.Kill();
            await curl.WaitForExitAsync();
        }
    }

    [Fact]
    public void Read_TcpSocket_ThrowsArgumentException()
    {
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        var e = Assert.Throws<ArgumentException>(() => PeerCredentialsReader.Read(tcp));
        Assert.Equal("socket must be a unix domain socket (Parameter 'socket')", e.Message);
    }

    [Fact]
    public void FromProcessId_LiveChild_ReturnsItsIdentity()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");

        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);

        Assert.Equal(child.Pid, peer.ProcessId);
        Assert.Equal(uint.Parse(Processes.Run("id", "-u").Trim()), peer.UserId);
        Assert.Equal(ProcFs.TryReadStartTime(child.Pid), peer.StartTime);
        Assert.NotNull(peer.PidFd);
        Assert.True(PeerCredentialsReader.IsAlive(peer));
    }

    [Fact]
    public async Task FromProcessId_ReapedChild_ThrowsDoesNotExist()
    {
        int pid;
        ulong? startTime;
        using (var child = ChildProcess.Start("/bin/sleep", "30"))
        {
            pid = child.Pid;
            startTime = ProcFs.TryReadStartTime(pid);
            await child.KillAsync();
        }

        // pid_max is 32768 here and parallel tests churn ids (threads take them too): when the id
        // was taken again meanwhile, the reader must describe the new holder, never the reaped child.
        try
        {
            using var reused = PeerCredentialsReader.FromProcessId(pid);
            Assert.NotEqual(startTime, reused.StartTime);
        }
        catch (WorkloadAttestationException e)
        {
            // "exited during attestation" when the id was taken by a thread of another process
            // (pidfd_open answers EINVAL for a thread that is not a group leader).
            Assert.Contains(e.Message, (string[])[$"process {pid} does not exist", $"process {pid} exited during attestation"]);
        }
    }

    [Fact]
    public async Task Reopen_SameStartTime_PinnedUnderTheIdsGiven_OtherStartTimeOrExited_Refused()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");
        var start = ProcFs.TryReadStartTime(child.Pid)!.Value;

        // Positive control: the process found before, pinned again with the ids it connected with.
        using (var peer = PeerCredentialsReader.Reopen(child.Pid, 4242, 4343, start))
        {
            Assert.Equal((child.Pid, 4242u, 4343u, start), (peer.ProcessId, peer.UserId, peer.GroupId, peer.StartTime));
            Assert.NotNull(peer.PidFd);
            Assert.True(PeerCredentialsReader.IsAlive(peer));
        }

        // Another start time is another process behind the same pid (reuse): refused.
        var reused = Assert.Throws<WorkloadAttestationException>(() => PeerCredentialsReader.Reopen(child.Pid, 0, 0, start + 1));
        Assert.Equal($"process {child.Pid} exited during attestation", reused.Message);

        await child.KillAsync();
        Assert.Throws<WorkloadAttestationException>(() => PeerCredentialsReader.Reopen(child.Pid, 0, 0, start));
    }

    [Fact]
    public async Task IsAlive_ChildKilledAfterOpen_ReturnsFalse()
    {
        using var child = ChildProcess.Start("/bin/sleep", "30");
        using var peer = PeerCredentialsReader.FromProcessId(child.Pid);
        Assert.True(PeerCredentialsReader.IsAlive(peer));

        await child.KillAsync();

        Assert.False(PeerCredentialsReader.IsAlive(peer));
    }

    [Theory]
    [InlineData("1234 (sleep) S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 987654 8192 100", 987654UL)]
    [InlineData("1234 (we ird) (x) R 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 42 8192 100", 42UL)]
    public void ParseStartTime_CommandWithSpacesAndParens_ReadsField22(string stat, ulong expected) =>
        Assert.Equal(expected, ProcFs.ParseStartTime(System.Text.Encoding.UTF8.GetBytes(stat)));

    [Theory]
    [InlineData("1234 sleep S 1", "/proc/pid/stat has no command field")]
    [InlineData("1234 (sleep) S 1 1234 1234", "/proc/pid/stat has too few fields")]
    [InlineData("1234 (sleep) S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 -5 8192", "/proc/pid/stat field 22 is not a number")]
    public void ParseStartTime_Malformed_ThrowsNamingWhat(string stat, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => ProcFs.ParseStartTime(System.Text.Encoding.UTF8.GetBytes(stat))).Message);

    private Socket Listen(out UnixDomainSocketEndPoint endpoint)
    {
        endpoint = new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "agent.sock"));
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(endpoint);
        listener.Listen();
        return listener;
    }
}
