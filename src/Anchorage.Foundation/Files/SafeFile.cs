using Anchorage.Foundation.Files.Internal;

namespace Anchorage.Foundation.Files;

/// <summary>
/// The one way Anchorage writes a file another program will trust (keys, certificates, bundles,
/// state, backups, audit and other logs). Writes go to a fresh temporary name in the same directory, created with
/// <c>O_CREAT|O_EXCL</c> (never through a symlink, never into a file someone else prepared) with
/// the final mode already set, are flushed to disk, then renamed over the final name (rename(2)
/// replaces a symlink or a pre-created file at that name; it never writes through it). The
/// directory must not let another user swap files in it: refused when it is writable by group or
/// others, unless it is sticky and owned by the caller, or when it is owned by another user than
/// the caller or root.
/// </summary>
public static class SafeFile
{
    /// <summary>0600: private keys, state, backups.</summary>
    public const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0644: certificates and bundles, which are public.</summary>
    public const UnixFileMode PublicMode = PrivateMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private const string TempMarker = ".tmp-";

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> as the type describes.</summary>
    /// <exception cref="UnauthorizedAccessException">The directory is unsafe; the message names it and why.</exception>
    /// <exception cref="IOException">The directory is missing, or the write or rename failed.</exception>
    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        var (full, temp) = Prepare(path);
        try
        {
            var stream = new FileStream(temp, Options(mode));
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            Commit(temp, full, mode, replace: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/>, synchronously; as <see cref="WriteAsync(string, ReadOnlyMemory{byte}, UnixFileMode, CancellationToken)"/>.</summary>
    /// <exception cref="UnauthorizedAccessException">The directory is unsafe; the message names it and why.</exception>
    /// <exception cref="IOException">The directory is missing, or the write or rename failed.</exception>
    /// <param name="path">The file to write.</param>
    /// <param name="content">Its whole content.</param>
    /// <param name="mode">Its mode, set at creation.</param>
    /// <param name="replace">False: an existing file at <paramref name="path"/> wins (IOException, nothing written).</param>
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode, bool replace = true)
    {
        var (full, temp) = Prepare(path);
        try
        {
            using (var stream = new FileStream(temp, Options(mode)))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            Commit(temp, full, mode, replace);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Writes what <paramref name="write"/> puts in the stream it is given (a streamed archive, a
    /// copy of another stream) to <paramref name="path"/>, as <see cref="WriteAsync(string, ReadOnlyMemory{byte}, UnixFileMode, CancellationToken)"/>:
    /// into a temporary name, then renamed into place only when <paramref name="write"/> completed.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="write">Writes the whole content; the stream is not to be disposed by it.</param>
    /// <param name="mode">The file's mode, set at creation.</param>
    /// <param name="replace">False: an existing name at <paramref name="path"/> wins (IOException, nothing written).</param>
    /// <param name="cancellationToken">Cancels the write; nothing is left behind.</param>
    /// <exception cref="UnauthorizedAccessException">The directory is unsafe; the message names it and why.</exception>
    /// <exception cref="IOException">The directory is missing, the name exists and <paramref name="replace"/> is false, or the write or rename failed.</exception>
    public static async Task WriteAsync(
        string path, Func<Stream, CancellationToken, Task> write, UnixFileMode mode, bool replace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        var (full, temp) = Prepare(path);
        try
        {
            var stream = new FileStream(temp, Options(mode));
            await using (stream.ConfigureAwait(false))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            Commit(temp, full, mode, replace);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> for appending (a log), creating it with <paramref name="mode"/>
    /// when absent. The directory is checked as for every write; an existing name must be a regular
    /// file owned by the caller, so a log is never appended through a symlink or to a file someone
    /// else placed there. (Appending cannot go through a temporary name; the directory check is what
    /// keeps the name from being swapped between the look and the open.)
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The directory is unsafe, or the name is a symlink, not a regular file, or another user's file.</exception>
    /// <exception cref="IOException">The directory is missing, or the open failed.</exception>
    public static FileStream OpenAppend(string path, UnixFileMode mode, int bufferSize = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"\"{path}\" has no directory", nameof(path));
        CheckDirectory(directory);
        if (!OperatingSystem.IsWindows() && FileOwnership.LinkStat(full) is { } existing)
        {
            if (!existing.IsRegularFile)
            {
                throw new UnauthorizedAccessException($"refusing to append to \"{full}\": it is not a regular file (a symlink, a directory or a device)");
            }

            if (existing.Owner != FileOwnership.EffectiveUserId)
            {
                throw new UnauthorizedAccessException(
                    $"refusing to append to \"{full}\": it is owned by uid {existing.Owner}, not by you (uid {FileOwnership.EffectiveUserId})");
            }
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = bufferSize,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        return new FileStream(full, options);
    }

    /// <summary>Writes UTF-8 text; as <see cref="WriteAsync(string, ReadOnlyMemory{byte}, UnixFileMode, CancellationToken)"/>.</summary>
    public static Task WriteTextAsync(string path, string text, UnixFileMode mode, CancellationToken cancellationToken) =>
        WriteAsync(path, System.Text.Encoding.UTF8.GetBytes(text), mode, cancellationToken);

    /// <summary>
    /// Refuses a directory another user could swap files in: writable by group or others unless
    /// sticky and owned by the caller, or owned by neither the caller nor root.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">Unsafe; the message names the directory and why.</exception>
    /// <exception cref="IOException">The directory does not exist or cannot be examined.</exception>
    public static void CheckDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"directory \"{directory}\" does not exist");
        }

        var (mode, owner) = FileOwnership.Stat(directory);

        var me = FileOwnership.EffectiveUserId;
        var othersWrite = (mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0;
        if (othersWrite && !(mode.HasFlag(UnixFileMode.StickyBit) && owner == me))
        {
            throw new UnauthorizedAccessException(
                $"refusing to write into \"{directory}\": it is writable by other users (mode {Octal(mode)}) " +
                "and not a sticky directory owned by you; use a directory only you can write");
        }

        if (owner != me && owner != 0)
        {
            throw new UnauthorizedAccessException(
                $"refusing to write into \"{directory}\": it is owned by uid {owner}, not by you (uid {me}) or root");
        }
    }

    private static (string Full, string Temp) Prepare(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"\"{path}\" has no directory", nameof(path));
        CheckDirectory(directory);
        var temp = Path.Combine(directory, "." + Path.GetFileName(full) + TempMarker + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)));
        return (full, temp);
    }

    private static FileStreamOptions Options(UnixFileMode mode)
    {
        // CreateNew is O_CREAT|O_EXCL: fails on any existing name, a symlink included, so nothing is written through one.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        return options;
    }

    private static void Commit(string temp, string full, UnixFileMode mode, bool replace)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, mode); // the umask may have taken bits the caller asked for
        }

        File.Move(temp, full, overwrite: replace); // rename(2): atomic, replaces a symlink or file at the name without following it
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}
