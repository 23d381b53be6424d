using System.Net.Sockets;

namespace Anchorage.Agent.Gate.Listeners;

/// <summary>The file of a unix listener: prepared before binding, removed after closing.</summary>
internal static class UnixSocketPath
{
    /// <summary>Creates the directory; replaces a stale socket left by a crash.</summary>
    /// <exception cref="IOException">A live socket is there: it belongs to someone else.</exception>
    public static void Prepare(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            return;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path);
            return;
        }

        throw new IOException($"{path} is served by another process");
    }

    /// <summary>Removes the socket file, quietly.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next start, which replaces stale sockets.
        }
    }
}
