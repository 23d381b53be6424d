using System.Globalization;

namespace Anchorage.Agent.Internal;

/// <summary>Finds which processes hold a socket, by its inode, through /proc/&lt;pid&gt;/fd (proc(5)).</summary>
/// <remarks>Reading another user's fd directory needs root or <c>CAP_SYS_PTRACE</c>; unreadable processes are skipped.</remarks>
internal static class SocketOwners
{
    /// <summary>Every process (thread group) with a descriptor on socket <paramref name="inode"/>, in /proc order.</summary>
    internal static List<int> Find(ulong inode, string procRoot = "/proc")
    {
        var target = Link(inode);
        var owners = new List<int>();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories(procRoot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return owners;
        }

        foreach (var dir in entries)
        {
            if (int.TryParse(Path.GetFileName(dir.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Holds(Path.Join(dir, "fd"), target))
            {
                owners.Add(pid);
            }
        }

        return owners;
    }

    /// <summary>True when process <paramref name="pid"/> has a descriptor on socket <paramref name="inode"/> now.</summary>
    internal static bool Holds(int pid, ulong inode, string procRoot = "/proc") =>
        Holds(Path.Join(procRoot, pid.ToString(CultureInfo.InvariantCulture), "fd"), Link(inode));

    private static string Link(ulong inode) => "socket:[" + inode.ToString(CultureInfo.InvariantCulture) + "]";

    private static bool Holds(string fdDirectory, string target)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries(fdDirectory))
            {
                string? link;
                try
                {
                    link = new FileInfo(fd).LinkTarget;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The descriptor was closed while we looked.
                    continue;
                }

                if (string.Equals(link, target, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process exited, or its descriptors are not ours to read.
        }

        return false;
    }
}
