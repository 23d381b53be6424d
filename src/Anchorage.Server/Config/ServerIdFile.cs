using System.Security.Cryptography;
using System.Text;
using Anchorage.Foundation.Files;

namespace Anchorage.Server.Config;

/// <summary>
/// The server id default: generated once (32 lowercase hex digits) and kept in
/// <c>&lt;dataDir&gt;/server-id</c>, so a restarted server finds the keys it owns.
/// </summary>
public static class ServerIdFile
{
    /// <summary>The file name inside the data directory.</summary>
    public const string FileName = "server-id";

    /// <summary>
    /// Returns the id stored in <paramref name="dataDir"/>, creating the directory (mode 0700) and
    /// the id if absent. Two servers starting at once on the same directory get the same id.
    /// </summary>
    /// <exception cref="InvalidDataException">The file exists but does not hold a valid server id.</exception>
    /// <exception cref="IOException">The directory or file cannot be read or written.</exception>
    public static string LoadOrCreate(string dataDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        var path = Path.Join(dataDir, FileName);
        if (File.Exists(path))
        {
            return Read(path);
        }

        if (!Directory.Exists(dataDir))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(dataDir);
            }
            else
            {
                Directory.CreateDirectory(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        try
        {
            // No overwrite: if another server wrote the id first, its id wins.
            SafeFile.Write(path, Encoding.ASCII.GetBytes(id + "\n"), SafeFile.PrivateMode, replace: false);
            return id;
        }
        catch (IOException) when (File.Exists(path))
        {
            return Read(path);
        }
    }

    /// <summary>True when <paramref name="id"/> is a valid server id: 1 to 64 of a-z, 0-9, '.', '-', '_', starting with a letter or digit.</summary>
    public static bool IsValid(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return id.Length is >= 1 and <= 64
            && char.IsAsciiLetterLower(id[0]) | char.IsAsciiDigit(id[0])
            && id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_');
    }

    private static string Read(string path)
    {
        var id = File.ReadAllText(path, Encoding.ASCII).Trim();
        return IsValid(id) ? id : throw new InvalidDataException($"{path} does not hold a valid server id");
    }
}
