using System.Net.Sockets;

namespace Anchorage.Testing.Sockets;

/// <summary>
/// A unix socket path in a fresh temporary directory (short enough for sun_path), removed with the
/// directory on dispose; <see cref="Listen"/> binds it, <see cref="ConnectAsync"/> dials it, and
/// <see cref="HttpHandler"/> gives an HTTP/gRPC client that reaches a server listening on it.
/// </summary>
public sealed class TempSocket : IDisposable
{
    private readonly TempDir _dir = new();

    /// <param name="name">The socket's file name inside the temporary directory.</param>
    public TempSocket(string name = "test.sock") => Path = System.IO.Path.Join(_dir.Path, name);

    /// <summary>The socket's path.</summary>
    public string Path { get; }

    /// <summary>A stream socket bound to <see cref="Path"/> and listening.</summary>
    public Socket Listen()
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(Path));
            listener.Listen();
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>A stream socket connected to <see cref="Path"/>.</summary>
    public Task<Socket> ConnectAsync(CancellationToken cancellationToken = default) => ConnectAsync(Path, cancellationToken);

    /// <summary>A stream socket connected to the unix socket at <paramref name="path"/>.</summary>
    public static async Task<Socket> ConnectAsync(string path, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An HTTP handler whose every connection goes to the unix socket at <paramref name="path"/> (for HttpClient and GrpcChannel).</summary>
    public static SocketsHttpHandler HttpHandler(string path) => new()
    {
        ConnectCallback = async (_, cancellationToken) => new NetworkStream(await ConnectAsync(path, cancellationToken), ownsSocket: true),
    };

    public void Dispose() => _dir.Dispose();
}
