using Grpc.Core;
using Microsoft.AspNetCore.Http;
using SocketPeer = Anchorage.Hosting.Listeners.PeerCredentials;

namespace Anchorage.Server.Hosting;

/// <summary>Reads the admin caller's <see cref="PeerCredentials"/> in HTTP handlers and gRPC services.</summary>
public static class PeerCredentialsExtensions
{
    /// <summary>The caller's credentials; null for requests that did not come through the admin socket.</summary>
    public static PeerCredentials? GetPeerCredentials(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<SocketPeer>() is { } peer ? new PeerCredentials(peer.ProcessId, peer.UserId, peer.GroupId) : null;
    }

    /// <summary>The caller's credentials in a gRPC service; null outside the admin socket.</summary>
    public static PeerCredentials? GetPeerCredentials(this ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.GetHttpContext().GetPeerCredentials();
    }
}
