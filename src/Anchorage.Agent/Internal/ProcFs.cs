using System.Globalization;

namespace Anchorage.Agent.Internal;

/// <summary>Readers for the /proc and /etc files the Unix attestor uses.</summary>
internal static partial class ProcFs
{
    private const int OpenReadOnly = 0x80000; // O_RDONLY | O_CLOEXEC

    /// <summary>
    /// The start time of <paramref name="pid"/> in clock ticks since boot (proc(5), /proc/pid/stat
    /// field 22), or null when the process no longer exists. The command name (field 2) may hold
    /// spaces and parentheses, so fields are counted from the last ')'.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    internal static unsafe ulong? TryReadStartTime(int pid)
    {
        // Read with three syscalls into a stack buffer (no FileStream, no string): this runs for
        // every accepted connection and at every liveness check.
        Span<byte> path = stackalloc byte[32];
        if (!System.Text.Unicode.Utf8.TryWrite(path, CultureInfo.InvariantCulture, $"/proc/{pid}/stat\0", out _))
        {
            return null;
        }

        Span<byte> stat = stackalloc byte[1024];
        int length;
        fixed (byte* p = path)
        fixed (byte* buffer = stat)
        {
            var fd = Open(p, OpenReadOnly);
            if (fd < 0)
            {
                return null; // ENOENT or ESRCH: the process no longer exists
            }

            var read = Read(fd, buffer, (nuint)stat.Length);
            _ = Close(fd);
            if (read <= 0)
            {
                return null; // ESRCH: the process went away between open and read
            }

            length = (int)read;
        }

        return ParseStartTime(stat[..length]);
    }

    /// <summary>Field 22 of a /proc/pid/stat line, counted from the last ')'.</summary>
    /// <exception cref="FormatException">The line is not one.</exception>
    internal static ulong ParseStartTime(ReadOnlySpan<byte> stat)
    {
        var close = stat.LastIndexOf((byte)')');
        if (close < 0)
        {
            throw new FormatException("/proc/pid/stat has no command field");
        }

        // After ") " comes field 3 (state); field 22 is the 20th field from there.
        var rest = stat[(close + 1)..];
        var field = 0;
        var start = -1;
        for (var i = 0; i <= rest.Length; i++)
        {
            var separator = i == rest.Length || rest[i] is (byte)' ' or (byte)'\n';
            if (!separator && start < 0)
            {
                start = i;
            }
            else if (separator && start >= 0)
            {
                if (++field == 20)
                {
                    return ulong.TryParse(rest[start..i], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                        ? ticks
                        : throw new FormatException("/proc/pid/stat field 22 is not a number");
                }

                start = -1;
            }
        }

        throw new FormatException("/proc/pid/stat has too few fields");
    }

    /// <summary>The supplementary group ids from the "Groups:" line of /proc/pid/status.</summary>
    internal static IReadOnlyList<uint> ParseGroups(string status)
    {
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("Groups:", StringComparison.Ordinal))
            {
                return line["Groups:".Length..]
                    .Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
                    .Select(g => uint.Parse(g, NumberStyles.None, CultureInfo.InvariantCulture))
                    .ToArray();
            }
        }

        return [];
    }

    /// <summary>The effective id (second column) of the "Uid:" or "Gid:" line of /proc/pid/status.</summary>
    internal static uint ParseEffectiveId(string status, string key) => ParseId(status, key, 1);

    /// <summary>The real id (first column) of the "Uid:" or "Gid:" line of /proc/pid/status.</summary>
    internal static uint ParseRealId(string status, string key) => ParseId(status, key, 0);

    private static uint ParseId(string status, string key, int column)
    {
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                var ids = line[key.Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                return uint.Parse(ids[column], NumberStyles.None, CultureInfo.InvariantCulture);
            }
        }

        throw new FormatException($"/proc/pid/status has no {key} line");
    }

    /// <summary>
    /// Maps ids to names from an /etc/passwd or /etc/group style file (name:password:id:...).
    /// The first entry for an id wins, as getpwuid(3) would return it.
    /// </summary>
    internal static Dictionary<uint, string> ReadIdNames(string path)
    {
        var names = new Dictionary<uint, string>();
        if (!File.Exists(path))
        {
            return names;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split(':');
            if (parts.Length >= 3
                && parts[0].Length > 0
                && uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                names.TryAdd(id, parts[0]);
            }
        }

        return names;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static unsafe partial int Open(byte* path, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
