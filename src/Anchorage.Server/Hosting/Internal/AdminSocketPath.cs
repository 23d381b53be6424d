using System.Net.Sockets;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>Makes the admin socket path free to bind: a stale socket is removed, a live one or a non-socket refused.</summary>
internal static class AdminSocketPath
{
    /// <returns>True when a stale socket was removed.</returns>
    /// <exception cref="IOException">Another process listens on the path, or the path is not a socket.</exception>
    public static async Task<bool> PrepareAsync(string path, CancellationToken cancellationToken)
    {
        if (Directory.Exists(path))
        {
            throw new IOException($"admin socket path {path} is a directory");
        }

        if (!File.Exists(path))
        {
            var directory = Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
            }

            return false;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                throw new IOException($"admin socket {path} is in use by another process");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: a socket left by a server that died, or not a socket at all.
            }
        }

        if (IsOpenableFile(path))
        {
            throw new IOException($"admin socket path {path} exists and is not a socket");
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
