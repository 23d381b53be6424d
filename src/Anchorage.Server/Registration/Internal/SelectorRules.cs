using System.Globalization;

namespace Anchorage.Server.Registration.Internal;

/// <summary>Value rules of the built-in selector types: what their attestors can produce.</summary>
internal static class SelectorRules
{
    /// <summary>The unix keys, in the order the error message lists them.</summary>
    public static readonly string[] UnixKeys = ["uid", "user", "gid", "group", "supplementary_gid", "supplementary_group", "path", "sha256"];

    private const int MaxNameLength = 256;

    /// <summary>Rules for <c>unix:&lt;key&gt;:&lt;value&gt;</c> (the value passed is <c>key:value</c>).</summary>
    public static string? ValidateUnix(string value)
    {
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return "unix selector must be unix:<key>:<value>, e.g. unix:uid:1000";
        }

        var key = value[..colon];
        var rest = value[(colon + 1)..];
        return key switch
        {
            "uid" or "gid" or "supplementary_gid" => Id(key, rest),
            "user" or "group" or "supplementary_group" => Name(key, rest),
            "path" => Path(rest),
            "sha256" => Sha256(rest),
            _ => $"unknown unix selector key \"{key}\"; known keys: {string.Join(", ", UnixKeys)}",
        };
    }

    /// <summary>Rules for <c>join_token:&lt;id&gt;</c>.</summary>
    public static string? ValidateJoinToken(string value) =>
        IsLowerHex(value, 16) ? null : "join_token id must be 16 lowercase hex characters";

    public static bool IsLowerHex(string value, int length)
    {
        if (value.Length != length)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    // A uid/gid as the kernel reports it: decimal, 0..2^32-2 ((uid_t)-1 means "no id").
    private static string? Id(string key, string text)
    {
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
        {
            return $"{key} must be a non-negative integer";
        }

        if (text.Length > 1 && text[0] == '0')
        {
            return $"{key} must be written without leading zeros";
        }

        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= uint.MaxValue - 1
            ? null
            : $"{key} must be at most {uint.MaxValue - 1}";
    }

    // User and group names: what /etc/passwd and /etc/group can hold and useradd accepts.
    private static string? Name(string key, string text) =>
        text.Length is > 0 and <= MaxNameLength && text[0] != '-' && text.IndexOfAny([':', '/']) < 0
            ? null
            : $"{key} must be a name of 1-{MaxNameLength} characters without ':' or '/', not starting with '-'";

    // The attestor reports the canonical executable path (readlink of /proc/<pid>/exe).
    private static string? Path(string text)
    {
        if (text.Length == 0 || text[0] != '/')
        {
            return "path must be absolute (start with '/')";
        }

        foreach (var segment in text[1..].Split('/'))
        {
            if (segment is "" or "." or "..")
            {
                return "path must be normalized: no empty, '.' or '..' segments and no trailing '/'";
            }
        }

        return null;
    }

    private static string? Sha256(string text) =>
        IsLowerHex(text, 64) ? null : "sha256 must be 64 lowercase hex characters";
}
