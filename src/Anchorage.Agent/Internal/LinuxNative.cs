using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Internal;

/// <summary>
/// The few Linux calls the BCL does not wrap. Syscall number 434 (pidfd_open) is the same on every
/// architecture (it was allocated after the tables were unified in Linux 5.1).
/// </summary>
internal static partial class LinuxNative
{
    internal const int SolSocket = 1;
    internal const int SoPeerCred = 17;
    internal const int SoPeerPidFd = 77;

    internal const int Enoent = 2;
    internal const int Esrch = 3;

    /// <summary>EINVAL: from pidfd_open, the id names a thread that is not a thread-group leader.</summary>
    internal const int Einval = 22;
    internal const int Enosys = 38;

    private const nint SysPidfdOpen = 434;
    private const short PollIn = 0x001;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int AtFdCwd = -100;

    /// <summary>pidfd_open(2). Returns the pidfd, or -1 with the errno in <paramref name="errno"/>.</summary>
    internal static int PidfdOpen(int pid, out int errno)
    {
        var fd = Syscall(SysPidfdOpen, pid, 0);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)fd;
    }

    /// <summary>
    /// True when the pidfd reports that its process has exited (a pidfd polls readable once the
    /// process terminates, before it is reaped, so a zombie counts as exited).
    /// </summary>
    internal static bool PidfdHasExited(SafeFileHandle pidFd)
    {
        var added = false;
        pidFd.DangerousAddRef(ref added);
        try
        {
            var fds = new PollFd { Fd = (int)pidFd.DangerousGetHandle(), Events = PollIn };
            var rc = Poll(ref fds, 1, 0);
            if (rc < 0)
            {
                throw new IOException($"poll on pidfd failed (errno {Marshal.GetLastPInvokeError()})");
            }

            return rc > 0 && (fds.Revents & PollIn) != 0;
        }
        finally
        {
            if (added)
            {
                pidFd.DangerousRelease();
            }
        }
    }

    /// <summary>statx(2) of an open descriptor: the identity of the file behind it.</summary>
    internal static FileIdentity StatxIdentity(SafeFileHandle file)
    {
        Span<byte> buffer = stackalloc byte[256];
        int rc;
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            rc = Statx((int)file.DangerousGetHandle(), string.Empty, AtEmptyPath, StatxBasicStats, ref MemoryMarshal.GetReference(buffer));
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }

        if (rc != 0)
        {
            throw new IOException($"statx failed (errno {Marshal.GetLastPInvokeError()})");
        }

        return ToIdentity(buffer);
    }

    /// <summary>statx(2) of a path (following symlinks): the identity of the file it names now.</summary>
    /// <exception cref="IOException">statx failed (e.g. the file does not exist).</exception>
    internal static FileIdentity StatxIdentity(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new IOException($"statx {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }

        return ToIdentity(buffer);
    }

    private static FileIdentity ToIdentity(ReadOnlySpan<byte> buffer)
    {
        // struct statx has the same layout on every architecture (include/uapi/linux/stat.h).
        return new FileIdentity(
            DevMajor: BinaryPrimitives.ReadUInt32LittleEndian(buffer[136..]),
            DevMinor: BinaryPrimitives.ReadUInt32LittleEndian(buffer[140..]),
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(buffer[32..]),
            Size: BinaryPrimitives.ReadUInt64LittleEndian(buffer[40..]),
            MtimeSeconds: BinaryPrimitives.ReadInt64LittleEndian(buffer[112..]),
            MtimeNanoseconds: BinaryPrimitives.ReadUInt32LittleEndian(buffer[120..]),
            CtimeSeconds: BinaryPrimitives.ReadInt64LittleEndian(buffer[96..]),
            CtimeNanoseconds: BinaryPrimitives.ReadUInt32LittleEndian(buffer[104..]));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>open(2) of a directory (O_RDONLY | O_DIRECTORY | O_CLOEXEC), e.g. a cgroup to attach programs to.</summary>
    internal static SafeFileHandle OpenDirectory(string path)
    {
        const int ODirectory = 0x10000;
        const int OCloexec = 0x80000;
        var fd = Open(path, ODirectory | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"cannot open {path} (errno {Marshal.GetLastPInvokeError()})");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The file type and mode bits (st_mode) of <paramref name="path"/>, following symlinks.</summary>
    internal static uint StatxMode(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new IOException($"statx {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }

        return BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
    }

    /// <summary>
    /// The IPv4 or IPv6 address and port <paramref name="socket"/> is bound to, from the kernel
    /// (getsockname(2)). For a connection accepted on a listener bound to one address, .NET's
    /// <c>LocalEndPoint</c> repeats the listener's address instead; a connection handed to the
    /// listener by sk_lookup has the address the client dialed.
    /// </summary>
    /// <exception cref="IOException">The socket is not an IP socket, or the call failed.</exception>
    internal static unsafe System.Net.IPEndPoint LocalAddress(SafeHandle socket)
    {
        const ushort AfInet = 2, AfInet6 = 10;
        var address = stackalloc byte[28];
        var length = 28;
        var added = false;
        int rc;
        socket.DangerousAddRef(ref added);
        try
        {
            rc = GetSockName((int)socket.DangerousGetHandle(), address, &length);
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }

        var bytes = new ReadOnlySpan<byte>(address, 28);
        var family = BinaryPrimitives.ReadUInt16LittleEndian(bytes);
        var port = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..4]);
        return rc != 0 ? throw new IOException($"getsockname failed (errno {Marshal.GetLastPInvokeError()})")
            : family == AfInet ? new System.Net.IPEndPoint(new System.Net.IPAddress(bytes[4..8]), port)
            : family == AfInet6 ? new System.Net.IPEndPoint(new System.Net.IPAddress(bytes[8..24], BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..28])), port)
            : throw new IOException($"getsockname: not an IP socket (family {family})");
    }

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    private static unsafe partial int GetSockName(int fd, byte* address, int* length);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint arg1, nint arg2);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, ref byte buffer);
}

/// <summary>What identifies one version of a file: device, inode, size, mtime and ctime.</summary>
internal readonly record struct FileIdentity(
    uint DevMajor,
    uint DevMinor,
    ulong Inode,
    ulong Size,
    long MtimeSeconds,
    uint MtimeNanoseconds,
    long CtimeSeconds,
    uint CtimeNanoseconds);
