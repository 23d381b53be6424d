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
    internal static bool Holds(int pid, ulong inode, string procRoot = "/proc")
    {
        Span<byte> target = stackalloc byte[32];
        target = target[..Link(inode, target)];
        var path = Encoding.UTF8.GetBytes(Path.Join(procRoot, pid.ToString(CultureInfo.InvariantCulture), "fd") + "\0");
        return HoldsIn(AtFdCwd, path, target);
    }

    // "socket:[<inode>]", the link text of a socket descriptor.
    private static int Link(ulong inode, Span<byte> destination)
    {
        _ = Encoding.UTF8.TryGetBytes(
            string.Create(CultureInfo.InvariantCulture, $"socket:[{inode}]"), destination, out var written);
        return written;
    }

    // True when the fd directory `path` (null-terminated, relative to `parent`) has a link equal to `target`.
    private static unsafe bool HoldsIn(int parent, ReadOnlySpan<byte> path, ReadOnlySpan<byte> target)
    {
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
            var link = stackalloc byte[64];
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

                    // A descriptor closed while we look fails here; a longer link is truncated and differs.
                    var length = ReadLinkAt(directory, name, link, 64);
                    if (length == target.Length && new ReadOnlySpan<byte>(link, (int)length).SequenceEqual(target))
                    {
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
