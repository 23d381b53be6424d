using System.Buffers.Binary;
using System.Net.Sockets;
using Anchorage.Agent.Internal;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Set on every admin connection: the peer's pid, uid and gid from <c>SO_PEERCRED</c> (no pidfd needed: only the uid decides).</summary>
internal sealed record AdminPeerFeature(int ProcessId, uint UserId, uint GroupId)
{
    /// <exception cref="SocketException">The kernel refused the query.</exception>
    public static AdminPeerFeature Read(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        if (socket.GetRawSocketOption(LinuxNative.SolSocket, LinuxNative.SoPeerCred, ucred) < ucred.Length)
        {
            throw new SocketException((int)SocketError.InvalidArgument);
        }

        return new AdminPeerFeature(
            BinaryPrimitives.ReadInt32LittleEndian(ucred),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }
}
