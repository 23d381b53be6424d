using System.Net.Sockets;

namespace Anchorage.Agent.Gate.Splicing;

/// <summary>A plain socket as a side of a splice: half-closed by <c>shutdown(SHUT_WR)</c>. Does not own the socket.</summary>
internal sealed class SocketEnd : ISpliceEnd, IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    public SocketEnd(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    public Stream Stream => _stream;

    public ValueTask CompleteWritesAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        return ValueTask.CompletedTask;
    }

    public void Abort() => Abort(_socket);

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    /// <summary>Shuts <paramref name="socket"/> down both ways and closes it; quiet when it is already gone.</summary>
    public static void Abort(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        socket.Close();
    }
}
