using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Internal;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate.Listeners;

/// <summary>One bound gate listener (unix or TCP) and its accept loop; each accepted connection is handed to its pipeline.</summary>
internal sealed class GateListener : IDisposable
{
    private readonly Socket _socket;
    private readonly string? _unixPath;
    private readonly ILogger _logger;

    private GateListener(string name, Socket socket, string? unixPath, ILogger logger)
    {
        Name = name;
        _socket = socket;
        _unixPath = unixPath;
        _logger = logger;
        Endpoint = socket.LocalEndPoint!;
    }

    public string Name { get; }

    /// <summary>The listening socket (the inbound steering program holds it in a sockmap).</summary>
    internal Socket Socket => _socket;

    /// <summary>The bound address (port 0 resolved).</summary>
    public EndPoint Endpoint { get; }

    /// <summary>Binds and listens on <paramref name="address"/>.</summary>
    /// <exception cref="IOException">It cannot bind, or its unix socket is served by another process.</exception>
    public static GateListener Bind(string name, GateListenAddress address, ILogger logger)
    {
        Socket? socket = null;
        try
        {
            if (address.UnixPath is { } path)
            {
                UnixSocketPath.Prepare(path);
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Bind(new UnixDomainSocketEndPoint(path));

                // Attestation, not file permissions, decides who gets through.
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
                }
            }
            else
            {
                var endpoint = address.Tcp!.ToIPEndPoint();
                socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(endpoint);
            }

            socket.Listen(512);
        }
        catch (SocketException e)
        {
            Close(socket, address.UnixPath, deleteFile: socket?.IsBound == true);
            throw new IOException($"gate listener {name} cannot listen on {address}: {e.Message}", e);
        }
        catch
        {
            Close(socket, address.UnixPath, deleteFile: socket?.IsBound == true);
            throw;
        }

        var listener = new GateListener(name, socket, address.UnixPath, logger);
        var shown = address.UnixPath is null ? "tcp://" + listener.Endpoint : address.ToString();
        GateLog.Listening(logger, name, address.UnixPath is null ? "tcp" : "unix", shown);
        return listener;
    }

    /// <summary>The first wait after accept failed for want of descriptors or memory.</summary>
    internal static readonly TimeSpan MinShortageBackoff = TimeSpan.FromMilliseconds(10);

    /// <summary>The longest wait between accept attempts while descriptors or memory are short.</summary>
    internal static readonly TimeSpan MaxShortageBackoff = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Accepts until <paramref name="stop"/> or <see cref="Dispose"/>; each connection
    /// <paramref name="admission"/> lets in runs <paramref name="handle"/>, its task passed to <paramref name="track"/>.
    /// </summary>
    /// <remarks>
    /// Out of file descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS), accept fails and the
    /// connection stays queued: the loop waits for connections to end (10 ms doubling to 1 s)
    /// instead of spinning, logs once per episode, and goes on; it never ends the listener.
    /// </remarks>
    public async Task AcceptAsync(
        Func<Socket, Task> handle, Action<Task> track, GateAdmission admission, string direction, TimeProvider time, CancellationToken stop)
    {
        var backoff = TimeSpan.Zero;
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (!stop.IsCancellationRequested && e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                if (backoff == TimeSpan.Zero)
                {
                    GateLog.AcceptShortage(_logger, Name, e.Message);
                }

                backoff = backoff == TimeSpan.Zero ? MinShortageBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxShortageBackoff.Ticks));
                try
                {
                    await Task.Delay(backoff, time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }
            catch (SocketException e)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                GateLog.AcceptFailed(_logger, Name, e.Message);
                continue;
            }

            backoff = TimeSpan.Zero;
            if (admission.TryAdmit(client, Name, direction) is not { } slot)
            {
                client.Dispose();
                continue;
            }

            track(Task.Run(() => RunAsync(client, slot, handle), CancellationToken.None));
        }
    }

    /// <summary>Stops listening; a unix listener's file is removed.</summary>
    public void Dispose() => Close(_socket, _unixPath, deleteFile: true);

    private async Task RunAsync(Socket client, IDisposable slot, Func<Socket, Task> handle)
    {
        try
        {
            await handle(client).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            GateLog.ConnectionFailed(_logger, "-", e.GetType().Name + ": " + e.Message);
        }
        finally
        {
            client.Dispose();
            slot.Dispose();
        }
    }

    private static void Close(Socket? socket, string? unixPath, bool deleteFile)
    {
        socket?.Dispose();
        if (deleteFile && unixPath is not null)
        {
            UnixSocketPath.TryDelete(unixPath);
        }
    }
}
