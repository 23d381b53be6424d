using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Anchorage.Agent.Internal;

/// <summary>Finds which processes hold a socket, by its inode, through /proc/&lt;pid&gt;/fd (proc(5)).</summary>
/// <remarks>
/// Reading another user's fd directory needs root or <c>CAP_SYS_PTRACE</c>; unreadable processes
/// are skipped. This is the user-space fallback's cost per connection (one readlink per open
/// descriptor on the host), so it is written to the syscalls: <c>getdents64</c> over each
/// directory and <c>readlinkat</c> into a stack buffer compared as bytes, no string per entry.
/// </remarks>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static partial class SocketOwners
{
    private const int OpenReadOnlyDirectory = 0x10000 | 0x80000; // O_RDONLY | O_DIRECTORY | O_CLOEXEC
    private const int AtFdCwd = -100;
    private const int DirectoryBufferSize = 8 * 1024;

    // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
    private const int RecordLengthOffset = 16;
    private const int NameOffset = 19;

    // Where (pid's fd directory, socket inode) was found last: a hint, always re-checked; bounded.
    private const int LastFoundCapacity = 4096;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Directory, ulong Inode), int> LastFound = new();

    /// <summary>Every process (thread group) with a descriptor on socket <paramref name="inode"/>, in /proc order.</summary>
    internal static unsafe List<int> Find(ulong inode, string procRoot = "/proc")
    {
        var owners = new List<int>();
        Span<byte> target = stackalloc byte[32];
        target = target[..Link(inode, target)];
        var root = OpenDirectory(AtFdCwd, procRoot);
        if (root < 0)
        {
            return owners;
        }

        try
        {
            var buffer = stackalloc byte[DirectoryBufferSize];
            Span<byte> relative = stackalloc byte[24];
            nint read;
            while ((read = GetDents64(root, buffer, DirectoryBufferSize)) > 0)
            {
                for (nint offset = 0; offset < read; offset += *(ushort*)(buffer + offset + RecordLengthOffset))
                {
                    var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer + offset + NameOffset);
                    if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    {
                        continue;
                    }

                    // "<pid>/fd\0", relative to the /proc descriptor.
                    name.CopyTo(relative);
                    "/fd\0"u8.CopyTo(relative[name.Length..]);
                    if (HoldsIn(root, relative, target))
                    {
                        owners.Add(pid);
                    }
                }
            }
        }
        finally
        {
            _ = Close(root);
        }

        return owners;
    }

    /// <summary>True when process <paramref name="pid"/> has a descriptor on socket <paramref name="inode"/> now.</summary>
    /// <remarks>
    /// The descriptor number where the socket was found last is tried first, one <c>readlink</c>
    /// (the inbound gate asks about the same listening socket for every connection); only when it
    /// no longer names the socket is the whole directory read. Either way the answer is what the
    /// kernel says now: a descriptor naming the socket is held by the process at that instant.
    /// </remarks>
    internal static unsafe bool Holds(int pid, ulong inode, string procRoot = "/proc")
    {
        Span<byte> target = stackalloc byte[32];
        target = target[..Link(inode, target)];
        var directory = Path.Join(procRoot, pid.ToString(CultureInfo.InvariantCulture), "fd");
        var key = (directory, inode);
        if (LastFound.TryGetValue(key, out var hint))
        {
            var hinted = Encoding.UTF8.GetBytes(directory + "/" + hint.ToString(CultureInfo.InvariantCulture) + "\0");
            fixed (byte* p = hinted)
            {
                if (LinkIs(AtFdCwd, p, target))
                {
                    return true;
                }
            }

            LastFound.TryRemove(key, out _);
        }

        var path = Encoding.UTF8.GetBytes(directory + "\0");
        if (!HoldsIn(AtFdCwd, path, target, out var found))
        {
            return false;
        }

        if (LastFound.Count >= LastFoundCapacity)
        {
            LastFound.Clear();
        }

        LastFound[key] = found;
        return true;
    }

    /// <summary>How many descriptors <paramref name="directory"/> (a /proc/pid/fd) lists: one <c>getdents64</c> pass, nothing resolved.</summary>
    /// <exception cref="IOException">The directory does not open.</exception>
    internal static unsafe long CountDescriptors(string directory = "/proc/self/fd")
    {
        var fd = OpenDirectory(AtFdCwd, directory);
        if (fd < 0)
        {
            throw new IOException($"cannot open {directory} (errno {Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture)})");
        }

        try
        {
            var buffer = stackalloc byte[DirectoryBufferSize];
            long count = 0;
            nint read;
            while ((read = GetDents64(fd, buffer, DirectoryBufferSize)) > 0)
            {
                for (nint offset = 0; offset < read; offset += *(ushort*)(buffer + offset + RecordLengthOffset))
                {
                    if (buffer[offset + NameOffset] != (byte)'.')
                    {
                        count++;
                    }
                }
            }

            return count;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    // "socket:[<inode>]", the link text of a socket descriptor.
    private static int Link(ulong inode, Span<byte> destination)
    {
        _ = Encoding.UTF8.TryGetBytes(
            string.Create(CultureInfo.InvariantCulture, $"socket:[{inode}]"), destination, out var written);
        return written;
    }

    // True when the fd directory `path` (null-terminated, relative to `parent`) has a link equal to `target`.
    private static bool HoldsIn(int parent, ReadOnlySpan<byte> path, ReadOnlySpan<byte> target) =>
        HoldsIn(parent, path, target, out _);

    // The same, with the number of the descriptor found (-1 when none).
    private static unsafe bool HoldsIn(int parent, ReadOnlySpan<byte> path, ReadOnlySpan<byte> target, out int found)
    {
        found = -1;
        int directory;
        fixed (byte* p = path)
        {
            directory = OpenAt(parent, p, OpenReadOnlyDirectory);
        }

        if (directory < 0)
        {
            // The process exited, or its descriptors are not ours to read.
            return false;
        }

        try
        {
            var buffer = stackalloc byte[DirectoryBufferSize];
            nint read;
            while ((read = GetDents64(directory, buffer, DirectoryBufferSize)) > 0)
            {
                for (nint offset = 0; offset < read; offset += *(ushort*)(buffer + offset + RecordLengthOffset))
                {
                    var name = buffer + offset + NameOffset;
                    if (name[0] == (byte)'.')
                    {
                        continue;
                    }

                    if (LinkIs(directory, name, target))
                    {
                        _ = int.TryParse(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(name), NumberStyles.None, CultureInfo.InvariantCulture, out found);
                        return true;
                    }
                }
            }

            return false;
        }
        finally
        {
            _ = Close(directory);
        }
    }

    // True when the link `name` (null-terminated, relative to `directory`) reads exactly `target`.
    // A descriptor closed while we look fails here; a longer link is truncated and differs.
    private static unsafe bool LinkIs(int directory, byte* name, ReadOnlySpan<byte> target)
    {
        var link = stackalloc byte[64];
        var length = ReadLinkAt(directory, name, link, 64);
        return length == target.Length && new ReadOnlySpan<byte>(link, (int)length).SequenceEqual(target);
    }

    private static unsafe int OpenDirectory(int parent, string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            return OpenAt(parent, p, OpenReadOnlyDirectory);
        }
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static unsafe partial int OpenAt(int directory, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static unsafe partial nint GetDents64(int directory, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    private static unsafe partial nint ReadLinkAt(int directory, byte* path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
