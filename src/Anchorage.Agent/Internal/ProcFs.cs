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

    /// <summary>The supplementary group ids of <paramref name="pid"/> from the "Groups:" line of /proc/pid/status (<see cref="ReadStatus{T}"/>).</summary>
    /// <exception cref="FileNotFoundException">The process no longer exists.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    /// <exception cref="IOException">Another read error, or the file is larger than <see cref="MaxStatusBytes"/>.</exception>
    internal static IReadOnlyList<uint> ReadGroups(int pid) => ReadStatus(pid, ParseGroups);

    /// <summary>/proc/pid/status of <paramref name="pid"/> as text (<see cref="ReadStatus{T}"/>), for the id parsers.</summary>
    /// <exception cref="FileNotFoundException">The process no longer exists.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    /// <exception cref="IOException">Another read error, or the file is larger than <see cref="MaxStatusBytes"/>.</exception>
    internal static string ReadStatusText(int pid) => ReadStatus(pid, static bytes => System.Text.Encoding.UTF8.GetString(bytes));

    /// <summary>Parses the bytes of a /proc file.</summary>
    internal delegate T BytesParser<out T>(ReadOnlySpan<byte> bytes);

    /// <summary>
    /// Reads /proc/pid/status of <paramref name="pid"/> with open, read and close into a pooled
    /// buffer and parses it there (no FileStream: its fstat, two flocks and extra reads were most
    /// of the cost of a read that runs for every Workload API call and gate connection).
    /// </summary>
    /// <exception cref="FileNotFoundException">The process no longer exists.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    /// <exception cref="IOException">Another read error, or the file is larger than <see cref="MaxStatusBytes"/>.</exception>
    internal static unsafe T ReadStatus<T>(int pid, BytesParser<T> parse)
    {
        Span<byte> path = stackalloc byte[32];
        if (!System.Text.Unicode.Utf8.TryWrite(path, CultureInfo.InvariantCulture, $"/proc/{pid}/status\0", out _))
        {
            throw new FileNotFoundException("no such process", pid.ToString(CultureInfo.InvariantCulture));
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int fd;
            fixed (byte* p = path)
            {
                fd = Open(p, OpenReadOnly);
            }

            if (fd < 0)
            {
                throw ReadError(pid, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            }

            var length = 0;
            try
            {
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        // Thousands of supplementary groups: grow, up to a bound.
                        if (buffer.Length >= MaxStatusBytes)
                        {
                            throw new IOException($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status is larger than {MaxStatusBytes} bytes");
                        }

                        var larger = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(larger);
                        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }

                    nint read;
                    fixed (byte* b = &buffer[length])
                    {
                        read = Read(fd, b, (nuint)(buffer.Length - length));
                    }

                    if (read < 0)
                    {
                        throw ReadError(pid, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
                    }

                    if (read == 0)
                    {
                        break;
                    }

                    length += (int)read;
                }
            }
            finally
            {
                _ = Close(fd);
            }

            return parse(buffer.AsSpan(0, length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The largest /proc/pid/status <see cref="ReadGroups"/> reads (65,536 groups of up to 10 digits fit).</summary>
    internal const int MaxStatusBytes = 1 << 20;

    private const int Enoent = 2;
    private const int Esrch = 3;
    private const int Eacces = 13;

    private static Exception ReadError(int pid, int errno)
    {
        var file = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status";
        return errno switch
        {
            Enoent or Esrch => new FileNotFoundException($"cannot read {file}: the process no longer exists", file),
            Eacces => new UnauthorizedAccessException($"cannot read {file}: permission denied"),
            _ => new IOException($"cannot read {file} (errno {errno.ToString(CultureInfo.InvariantCulture)})", errno),
        };
    }

    /// <summary>The supplementary group ids from the "Groups:" line of a /proc/pid/status file's bytes.</summary>
    /// <exception cref="FormatException">A group id is not a number.</exception>
    internal static IReadOnlyList<uint> ParseGroups(ReadOnlySpan<byte> status)
    {
        ReadOnlySpan<byte> key = "Groups:"u8;
        var rest = status;
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            if (!line.StartsWith(key))
            {
                continue;
            }

            var groups = new List<uint>();
            foreach (var range in line[key.Length..].SplitAny(" \t"u8))
            {
                var field = line[key.Length..][range];
                if (field.IsEmpty)
                {
                    continue;
                }

                groups.Add(uint.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
                    ? gid
                    : throw new FormatException("/proc/pid/status has a group id that is not a number"));
            }

            return groups;
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

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static unsafe partial int Open(byte* path, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
