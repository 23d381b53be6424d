using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel;
using Anchorage.Agent.Kernel.Internal;
using Anchorage.Testing.Kernel;
using Anchorage.Testing.Sockets;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>The eBPF programs in the real kernel: a record per connect(), read back once, only for the attached cgroup.</summary>
public sealed class KernelAttributionTests
{
    private const string Python = "/usr/bin/python3.11";

    [KernelFact]
    public async Task TryTakeUnix_ClientInAttachedCgroup_ReturnsItsConnectTimeFactsOnce()
    {
        using var cgroup = TestCgroup.Create();
        using var attribution = KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup.Path]);
        using var socketFile = new TempSocket("kt.sock");
        var path = socketFile.Path;
        using var listener = socketFile.Listen();
        try
        {
            var client = cgroup.Start(Python, "-c", $"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('{path}'); sys.stdin.read()");
            using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));

            var peer = UnixSockDiag.PeerInode(accepted);
            Assert.NotNull(peer);
            Assert.True(attribution.TryTakeUnix(peer.Value, out var facts));

            var exe = LinuxNative.StatxIdentity(Python);
            Assert.Equal(client.Id, facts.ProcessId);
            Assert.Equal((exe.DevMajor, exe.DevMinor), facts.ExecutableDeviceNumbers);
            Assert.Equal(exe.Inode, facts.ExecutableInode);
            Assert.Equal(0u, facts.RealUserId);
            Assert.Equal(0u, facts.EffectiveUserId);
            Assert.Equal(ProcFs.TryReadStartTime(client.Id), facts.StartTimeTicks);
            Assert.Equal(NamespaceInode(client.Id, "mnt"), facts.MountNamespace);
            Assert.Equal(NamespaceInode(client.Id, "user"), facts.UserNamespace);
            Assert.NotEqual(0ul, facts.CgroupId);

            // Read once: the record is gone.
            Assert.False(attribution.TryTakeUnix(peer.Value, out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [KernelFact]
    public async Task TryTakeUnix_ClientInOtherNetworkNamespace_PeerInodeReadFromItsNamespaceAndRecordFound()
    {
        using var cgroup = TestCgroup.Create();
        using var attribution = KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup.Path]);
        using var socketFile = new TempSocket("kt.sock");
        var path = socketFile.Path;
        using var listener = socketFile.Listen();
        try
        {
            var client = cgroup.Start("/usr/bin/unshare", "-n", Python, "-c",
                $"import os,socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('{path}'); print(os.fstat(s.fileno()).st_ino, os.readlink('/proc/self/ns/net'), flush=True); sys.stdin.read()");
            using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));
            var line = (await client.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)))!.Split(' ');

            // The client really is in another network namespace than this test.
            Assert.NotEqual(new FileInfo("/proc/self/ns/net").LinkTarget, line[1]);
            var peer = UnixSockDiag.PeerInode(accepted);
            Assert.Equal(ulong.Parse(line[0], System.Globalization.CultureInfo.InvariantCulture), peer);
            Assert.True(attribution.TryTakeUnix(peer!.Value, out var facts));
            Assert.Equal(client.Id, facts.ProcessId);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [KernelFact]
    public async Task TryTakeUnix_ClientOutsideAttachedCgroup_HasNoRecord()
    {
        using var cgroup = TestCgroup.Create();
        using var attribution = KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup.Path]);
        using var socketFile = new TempSocket("kt.sock");
        var path = socketFile.Path;
        using var listener = socketFile.Listen();
        try
        {
            // This test process is not in the cgroup.
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
            using var accepted = await listener.AcceptAsync();

            var peer = UnixSockDiag.PeerInode(accepted);
            Assert.Equal(LinuxNative.StatxIdentity(new Microsoft.Win32.SafeHandles.SafeFileHandle(client.Handle, false)).Inode, peer);
            Assert.False(attribution.TryTakeUnix(peer!.Value, out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [KernelFact]
    public async Task TryTakeTcp_ClientInAttachedCgroup_ReturnsItsFactsByFourTuple()
    {
        using var cgroup = TestCgroup.Create();
        using var attribution = KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup.Path]);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        var client = cgroup.Start(Python, "-c", $"import socket,sys; s=socket.create_connection(('127.0.0.1', {port})); sys.stdin.read()");
        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));

        var remote = (IPEndPoint)accepted.RemoteEndPoint!;
        var local = (IPEndPoint)accepted.LocalEndPoint!;
        Assert.True(attribution.TryTakeTcp(remote, local, out var facts));
        Assert.Equal(client.Id, facts.ProcessId);
        Assert.Equal(LinuxNative.StatxIdentity(Python).Inode, facts.ExecutableInode);
        Assert.False(attribution.TryTakeTcp(remote, local, out _));
    }

    [KernelFact]
    public void Load_RootCgroup_IsRefused()
    {
        var e = Assert.Throws<KernelAttributionException>(() => KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [TestCgroup.Root]));
        Assert.Equal($"{TestCgroup.Root} is the root cgroup: attaching there would attribute every process on the host", e.Message);
    }

    private static uint NamespaceInode(int pid, string kind)
    {
        // readlink gives "mnt:[4026531841]".
        var link = new FileInfo($"/proc/{pid}/ns/{kind}").LinkTarget!;
        return uint.Parse(link[(link.IndexOf('[', StringComparison.Ordinal) + 1)..^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
