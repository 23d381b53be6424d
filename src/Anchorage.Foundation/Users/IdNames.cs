using System.Globalization;

namespace Anchorage.Foundation.Users;

/// <summary>
/// The names of user and group ids from an /etc/passwd or /etc/group style file
/// (<c>name:password:id:...</c>): the one reader, used by the agent's unix attestor (names in
/// selectors) and the server's approval record (the approver's name next to the uid the kernel
/// vouched for).
/// </summary>
public static class IdNames
{
    /// <summary>The user database.</summary>
    public const string PasswdFile = "/etc/passwd";

    /// <summary>The group database.</summary>
    public const string GroupFile = "/etc/group";

    /// <summary>
    /// Every id in <paramref name="path"/> with its name. The first entry for an id wins, as
    /// getpwuid(3) returns it; comment lines, lines without a name and lines whose third field is not
    /// an unsigned number are skipped. A file that does not exist or cannot be read gives no names.
    /// </summary>
    public static IReadOnlyDictionary<uint, string> Read(string path)
    {
        var names = new Dictionary<uint, string>();
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var fields = line.Split(':');
                if (fields.Length >= 3
                    && fields[0].Length > 0
                    && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    names.TryAdd(id, fields[0]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No names: callers fall back to the number.
        }

        return names;
    }

    /// <summary>The name of user <paramref name="uid"/> in <paramref name="path"/>, or the empty string when it has none.</summary>
    public static string UserName(uint uid, string path = PasswdFile) =>
        Read(path).TryGetValue(uid, out var name) ? name : string.Empty;
}
