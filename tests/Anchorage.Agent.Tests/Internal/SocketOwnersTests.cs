using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Agent.Internal;
using Anchorage.Testing;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Tests.Internal;

/// <summary>The holders of a socket, from the real /proc of this host (the fallback's sole-holder check).</summary>
[SupportedOSPlatform("linux")]
public sealed class SocketOwnersTests
{
    // Makes a socket, prints its inode, forks when asked (both keep it), then waits to be killed.
    private const string Holder = """
        import os, socket, sys, time
        s = socket.socket()
        if sys.argv[1] == 'fork' and os.fork() == 0:
            time.sleep(60); sys.exit(0)
        print(os.fstat(s.fileno()).st_ino, flush=True)
        time.sleep(60)
        """;

    [Fact]
    public void Find_SocketOfThisProcess_ThisProcessOnly()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.Equal([Environment.ProcessId], SocketOwners.Find(Inode(socket)));
        Assert.True(SocketOwners.Holds(Environment.ProcessId, Inode(socket)));
    }

    [Fact]
    public void Find_SocketAmongMoreDescriptorsThanOneDirectoryRead_Found()
    {
        // One getdents64 buffer (8 KiB) holds about 350 fd entries: the socket made last sits past it.
        var sockets = Enumerable.Range(0, 1200).Select(_ => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)).ToList();
        try
        {
            Assert.Equal([Environment.ProcessId], SocketOwners.Find(Inode(sockets[^1])));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Find_SocketOfAChild_TheChildAndHoldsSaysSo()
    {
        using var child = ChildProcess.Start("/usr/bin/python3", "-c", Holder, "keep");
        var inode = await FirstLineAsync(child);

        Assert.Equal([child.Pid], SocketOwners.Find(inode));
        Assert.True(SocketOwners.Holds(child.Pid, inode));
        Assert.False(SocketOwners.Holds(Environment.ProcessId, inode));
    }

    [Fact]
    public async Task Find_SocketSharedAcrossFork_BothHolders()
    {
        using var child = ChildProcess.Start("/usr/bin/python3", "-c", Holder, "fork");
        var inode = await FirstLineAsync(child);

        List<int> owners = [];
        await Eventually.TrueAsync(() => (owners = SocketOwners.Find(inode)).Count == 2, "both processes to hold the socket");

        Assert.Contains(child.Pid, owners);
        Assert.DoesNotContain(Environment.ProcessId, owners);
    }

    [Fact]
    public void Find_NoSuchSocketOrNoProc_Empty()
    {
        Assert.Empty(SocketOwners.Find(ulong.MaxValue));
        Assert.Empty(SocketOwners.Find(1, "/nonexistent-proc"));
        Assert.False(SocketOwners.Holds(Environment.ProcessId, ulong.MaxValue));
    }

    // Makes a socket and prints its inode; when argv[2] appears moves it to descriptor 200 and
    // prints "moved"; when argv[3] appears closes it and prints "closed".
    private const string Mover = """
        import os, socket, sys, time
        s = socket.socket()
        print(os.fstat(s.fileno()).st_ino, flush=True)
        while not os.path.exists(sys.argv[1]): time.sleep(0.01)
        os.dup2(s.fileno(), 200); s.close()
        print('moved', flush=True)
        while not os.path.exists(sys.argv[2]): time.sleep(0.01)
        os.close(200)
        print('closed', flush=True)
        time.sleep(60)
        """;

    [Fact]
    public async Task Holds_SocketMovedToAnotherDescriptorThenClosed_FollowsTheKernel()
    {
        // Holds remembers where it found a socket: the remembered descriptor must never stand in
        // for the kernel's current answer.
        using var dir = new TempDir();
        var move = Path.Combine(dir.Path, "move");
        var close = Path.Combine(dir.Path, "close");
        using var child = ChildProcess.Start("/usr/bin/python3", "-c", Mover, move, close);
        var inode = await FirstLineAsync(child);
        Assert.True(SocketOwners.Holds(child.Pid, inode));

        File.WriteAllText(move, string.Empty);
        await Eventually.TrueAsync(() => Task.FromResult(child.Lines.Contains("moved")), () => "the child to move the socket: " + child.Output);
        Assert.True(SocketOwners.Holds(child.Pid, inode));

        File.WriteAllText(close, string.Empty);
        await Eventually.TrueAsync(() => Task.FromResult(child.Lines.Contains("closed")), () => "the child to close the socket: " + child.Output);
        Assert.False(SocketOwners.Holds(child.Pid, inode));
        Assert.Empty(SocketOwners.Find(inode));
    }

    [Fact]
    public async Task CountDescriptors_QuietChild_WhatTheDirectoryLists()
    {
        // A child that only sleeps (this test process opens descriptors on other threads meanwhile).
        using var child = ChildProcess.Start("/usr/bin/python3", "-c", Holder, "keep");
        await FirstLineAsync(child);
        var directory = $"/proc/{child.Pid.ToString(CultureInfo.InvariantCulture)}/fd";

        Assert.Equal(Directory.GetFileSystemEntries(directory).Length, SocketOwners.CountDescriptors(directory));
        Assert.True(SocketOwners.CountDescriptors(directory) >= 4); // stdin, stdout, stderr and the socket
        Assert.Throws<IOException>(() => SocketOwners.CountDescriptors("/nonexistent/fd"));
    }

    private static async Task<ulong> FirstLineAsync(ChildProcess child)
    {
        await Eventually.TrueAsync(() => Task.FromResult(child.Lines.Count > 0), () => "the child's inode line: " + child.Output);
        return ulong.Parse(child.Lines.First(), CultureInfo.InvariantCulture);
    }

    private static ulong Inode(Socket socket) =>
        LinuxNative.StatxIdentity(new SafeFileHandle(socket.Handle, ownsHandle: false)).Inode;
}
