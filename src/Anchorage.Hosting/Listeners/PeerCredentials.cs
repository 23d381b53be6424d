namespace Anchorage.Hosting.Listeners;

/// <summary>The process at the other end of a unix socket, as the kernel reported it when it connected (<c>SO_PEERCRED</c>).</summary>
/// <param name="ProcessId">The peer's pid (0 when it is outside this pid namespace).</param>
/// <param name="UserId">The peer's effective uid.</param>
/// <param name="GroupId">The peer's effective gid.</param>
public sealed record PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Reads <c>SO_PEERCRED</c> (Linux <c>struct ucred</c>) from a connected unix socket.</summary>
    /// <exception cref="System.Net.Sockets.SocketException">The kernel refused the query.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static PeerCredentials Read(System.Net.Sockets.Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("peer credentials are read with SO_PEERCRED, which needs Linux");
        }

        Span<byte> ucred = stackalloc byte[12];
        if (socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) < ucred.Length)
        {
            throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.InvalidArgument);
        }

        return new PeerCredentials(
            System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(ucred),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }
}
