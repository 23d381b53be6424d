using System.Text;

namespace Anchorage.Foundation.Config;

/// <summary>Reads a configuration file for a loader: the text, or the one error that says why it cannot be read.</summary>
public static class ConfigFile
{
    /// <summary>
    /// Reads <paramref name="path"/> as UTF-8 and hands the text to <paramref name="parse"/>
    /// (with the path as the name in messages); a missing or unreadable file is a failed result
    /// naming the file, never an exception.
    /// </summary>
    public static ConfigResult<T> Load<T>(string path, Func<string, string, ConfigResult<T>> parse)
        where T : class
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(parse);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new ConfigResult<T>([new ConfigError(path, null, null, string.Empty, "file not found")]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ConfigResult<T>([new ConfigError(path, null, null, string.Empty, "cannot read the file: " + e.Message)]);
        }

        return parse(text, path);
    }
}
