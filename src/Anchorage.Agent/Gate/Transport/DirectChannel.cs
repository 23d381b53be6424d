using System.Net.Security;
using System.Net.Sockets;
using Anchorage.Agent.Gate.Splicing;

namespace Anchorage.Agent.Gate.Transport;

/// <summary>A TLS connection over its own socket (outbound, owned) or the accepted one (inbound, owned by the listener's loop).</summary>
internal sealed class DirectChannel(SslStream tls, Socket socket, bool ownsSocket) : GateChannel
{
    public override Stream Stream => tls;

    // close_notify, then the peer sees the end of stream; reading goes on.
    public override ValueTask CompleteWritesAsync() => new(tls.ShutdownAsync());

    public override void Abort() => SocketEnd.Abort(socket);

    public override async ValueTask DisposeAsync()
    {
        await tls.DisposeAsync().ConfigureAwait(false);
        if (ownsSocket)
        {
            socket.Dispose();
        }
    }
}
