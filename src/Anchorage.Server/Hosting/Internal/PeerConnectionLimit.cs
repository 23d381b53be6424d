using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>
/// Caps the connections one peer address holds open on a listener at once: a connection past the
/// cap is closed before TLS, so one host cannot take every connection (and the memory each holds).
/// Its table holds only addresses with an open connection, so it is bounded by the open connections.
/// </summary>
internal sealed class PeerConnectionLimit(int maxPerPeer, ILogger logger)
{
    private readonly Dictionary<IPAddress, int> _open = [];

    /// <summary>The connection middleware (<c>ListenOptions.Use</c>).</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => async connection =>
    {
        if (connection.RemoteEndPoint is not IPEndPoint { Address: var peer })
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        if (!TryEnter(peer))
        {
            HostingLog.PeerConnectionRefused(logger, peer.ToString(), maxPerPeer);
            connection.Abort(new ConnectionAbortedException("too many connections from this peer"));
            return;
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Leave(peer);
        }
    };

    /// <summary>Connections open now from <paramref name="peer"/>.</summary>
    public int OpenFrom(IPAddress peer)
    {
        lock (_open)
        {
            return _open.GetValueOrDefault(peer);
        }
    }

    private bool TryEnter(IPAddress peer)
    {
        lock (_open)
        {
            var open = _open.GetValueOrDefault(peer);
            if (open >= maxPerPeer)
            {
                return false;
            }

            _open[peer] = open + 1;
            return true;
        }
    }

    private void Leave(IPAddress peer)
    {
        lock (_open)
        {
            if (_open.TryGetValue(peer, out var open) && open > 1)
            {
                _open[peer] = open - 1;
            }
            else
            {
                _open.Remove(peer);
            }
        }
    }
}
