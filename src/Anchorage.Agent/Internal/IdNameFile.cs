using Anchorage.Foundation.Users;

namespace Anchorage.Agent.Internal;

/// <summary>
/// /etc/passwd or /etc/group, read again only when the file changes (statx device, inode, size,
/// mtime or ctime differ), so attesting a caller does not parse both files on every call. A file
/// replaced by rename (how these files are usually edited) is a new inode.
/// </summary>
internal sealed class IdNameFile(string path)
{
    private (FileIdentity Identity, IReadOnlyDictionary<uint, string> Names)? _cached;

    /// <summary>The id-to-name map as the file is now; empty when the file does not exist.</summary>
    public IReadOnlyDictionary<uint, string> Read()
    {
        FileIdentity identity;
        try
        {
            identity = LinuxNative.StatxIdentity(path);
        }
        catch (IOException)
        {
            _cached = null;
            return IdNames.Read(path);
        }

        var cached = _cached;
        if (cached is { } c && c.Identity == identity)
        {
            return c.Names;
        }

        var names = IdNames.Read(path);
        _cached = (identity, names);
        return names;
    }
}
