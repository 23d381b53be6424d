using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>Reads <c>SO_PEERCRED</c> (Linux <c>struct ucred</c>: pid, uid, gid) from a connected unix socket.</summary>
internal static class PeerCredentialsReader
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <exception cref="SocketException">The kernel refused the query.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static PeerCredentials Read(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("peer credentials are read with SO_PEERCRED, which needs Linux");
        }

        Span<byte> ucred = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != ucred.Length)
        {
            throw new SocketException((int)SocketError.InvalidArgument);
        }

        return new PeerCredentials(
            MemoryMarshal.Read<int>(ucred),
            MemoryMarshal.Read<uint>(ucred[4..]),
            MemoryMarshal.Read<uint>(ucred[8..]));
    }
}
