using System.Net.Sockets;

namespace Anchorage.Foundation.Sockets;

/// <summary>
/// Makes a unix socket path free for a listener to bind: a missing parent directory is created, a
/// stale socket left by a process that died is removed, and a live socket or a non-socket is refused.
/// </summary>
public static class UnixSocketFile
{
    /// <summary>Prepares <paramref name="path"/> for binding.</summary>
    /// <param name="path">The socket path.</param>
    /// <param name="label">What the socket is, for messages (<c>admin socket</c>).</param>
    /// <param name="inUseMessage">The message when a live process answers on the path.</param>
    /// <param name="directoryMode">The mode of the parent directory when it has to be created; null for the umask's default.</param>
    /// <param name="cancellationToken">Cancels the probe connection.</param>
    /// <returns>True when a stale socket was removed.</returns>
    /// <exception cref="IOException">
    /// Another process listens on the path (<paramref name="inUseMessage"/>), the path is a
    /// directory (<c>&lt;label&gt; path &lt;path&gt; is a directory</c>), or it is not a socket
    /// (<c>&lt;label&gt; path &lt;path&gt; exists and is not a socket</c>).
    /// </exception>
    public static async Task<bool> PrepareAsync(
        string path, string label, string inUseMessage, UnixFileMode? directoryMode, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(label);
        ArgumentException.ThrowIfNullOrEmpty(inUseMessage);
        if (Directory.Exists(path))
        {
            throw new IOException($"{label} path {path} is a directory");
        }

        if (!File.Exists(path))
        {
            var directory = Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
                if (directoryMode is { } mode && !OperatingSystem.IsWindows())
                {
                    // mkdir(2) applies the umask; the mode asked for is set explicitly.
                    File.SetUnixFileMode(directory, mode);
                }
            }

            return false;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                throw new IOException(inUseMessage);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: a socket left by a process that died, or not a socket at all.
            }
        }

        if (IsOpenableFile(path))
        {
            throw new IOException($"{label} path {path} exists and is not a socket");
        }

        File.Delete(path);
        return true;
    }

    // open(2) on a unix socket fails (ENXIO); on a regular file it succeeds.
    private static bool IsOpenableFile(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
