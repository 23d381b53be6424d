using System.Globalization;

namespace Anchorage.Agent.Internal;

/// <summary>Readers for the /proc and /etc files the Unix attestor uses.</summary>
internal static class ProcFs
{
    /// <summary>
    /// The start time of <paramref name="pid"/> in clock ticks since boot (proc(5), /proc/pid/stat
    /// field 22), or null when the process no longer exists. The command name (field 2) may hold
    /// spaces and parentheses, so fields are counted from the last ')'.
    /// </summary>
    internal static ulong? TryReadStartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (IOException)
        {
            // ESRCH: the process went away between open and read.
            return null;
        }

        return ParseStartTime(stat);
    }

    internal static ulong ParseStartTime(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            throw new FormatException("/proc/pid/stat has no command field");
        }

        // After ") " comes field 3 (state); field 22 is the 20th field from there.
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20)
        {
            throw new FormatException("/proc/pid/stat has too few fields");
        }

        return ulong.Parse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture);
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
}
