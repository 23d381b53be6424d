namespace Anchorage.Server.Api.Internal;

/// <summary>
/// The user name of a uid from /etc/passwd (the first entry for it, as getpwuid(3)), for the approval
/// record: the uid is what the kernel vouched for, the name is what a reviewer reads.
/// </summary>
internal static class UserNames
{
    public static string Of(uint uid, string path = "/etc/passwd")
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && uint.TryParse(fields[2], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && id == uid)
                {
                    return fields[0];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No name: the uid alone is recorded.
        }

        return string.Empty;
    }
}
