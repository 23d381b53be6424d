using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Anchorage.Hosting.Listeners;

/// <summary>
/// The middleware both hosts put in front of their endpoints: every connection tagged with its
/// listener, admin connections with their peer's credentials, admin requests refused unless the
/// caller's uid is an admin, and every endpoint reachable only on the listeners it names.
/// </summary>
public static class ListenerPipeline
{
    /// <summary>Connection middleware: tags every connection of a listener with <see cref="ListenerFeature{TListener}"/>.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Tag<TListener>(TListener listener)
        where TListener : struct, Enum => next => connection =>
    {
        connection.Features.Set(new ListenerFeature<TListener>(listener));
        return next(connection);
    };

    /// <summary>
    /// Connection middleware of an admin unix socket: the peer's <see cref="PeerCredentials"/> are
    /// read once (they are fixed when it connects) and set with the listener tag; a connection
    /// whose credentials cannot be read is reported to <paramref name="unavailable"/> and closed.
    /// </summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> AdminConnection<TListener>(TListener admin, Action<Exception> unavailable)
        where TListener : struct, Enum => next => connection =>
    {
        PeerCredentials peer;
        try
        {
            var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket
                ?? throw new InvalidOperationException("the admin connection exposes no socket");
            peer = PeerCredentials.Read(socket);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException or PlatformNotSupportedException or ObjectDisposedException)
        {
            unavailable(e);
            connection.Abort();
            return Task.CompletedTask;
        }

        connection.Features.Set(new ListenerFeature<TListener>(admin));
        connection.Features.Set(peer);
        return next(connection);
    };

    /// <summary>The listener a request arrived on; null when its connection was not tagged.</summary>
    public static TListener? ListenerOf<TListener>(HttpContext context)
        where TListener : struct, Enum => context.Features.Get<ListenerFeature<TListener>>()?.Listener;

    /// <summary>
    /// Request middleware (before routing): a request on <paramref name="admin"/> from a uid outside
    /// <paramref name="adminUids"/> is refused (PermissionDenied / 403) and reported to
    /// <paramref name="refused"/> with the caller's uid and pid.
    /// </summary>
    public static IApplicationBuilder UseAdminUids<TListener>(this IApplicationBuilder app, TListener admin, IReadOnlySet<uint> adminUids, Action<uint, int> refused)
        where TListener : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(adminUids);
        ArgumentNullException.ThrowIfNull(refused);
        return app.Use((context, next) =>
        {
            if (!EqualityComparer<TListener?>.Default.Equals(ListenerOf<TListener>(context), admin))
            {
                return next(context);
            }

            var peer = context.Features.Get<PeerCredentials>();
            if (peer is not null && adminUids.Contains(peer.UserId))
            {
                return next(context);
            }

            var uid = peer?.UserId ?? uint.MaxValue;
            refused(uid, peer?.ProcessId ?? 0);
            return GrpcReply.RefuseAsync(context, StatusCode.PermissionDenied, StatusCodes.Status403Forbidden, $"caller uid {uid} is not an admin");
        });
    }

    /// <summary>
    /// Request middleware (after routing): each endpoint answers on the listeners its
    /// <see cref="ListenerMetadata{TListener}"/> names, and nowhere else (Unimplemented / 404).
    /// </summary>
    public static IApplicationBuilder UseListenerRouting<TListener>(this IApplicationBuilder app)
        where TListener : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use((context, next) =>
        {
            var endpoint = context.GetEndpoint();
            if (endpoint is null
                || (ListenerOf<TListener>(context) is { } listener && endpoint.Metadata.GetMetadata<ListenerMetadata<TListener>>()?.Allows(listener) == true))
            {
                return next(context);
            }

            return GrpcReply.RefuseAsync(context, StatusCode.Unimplemented, StatusCodes.Status404NotFound, "not found");
        });
    }
}
