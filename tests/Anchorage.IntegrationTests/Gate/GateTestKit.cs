using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Anchorage.Agent.Policy;
using Anchorage.Foundation.Audit;
using Anchorage.Policy;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>An audit sink that keeps every record, for assertions.</summary>
internal sealed class CollectingAuditSink : IAuditSink
{
    private readonly ConcurrentQueue<AuditRecord> _records = new();

    public IReadOnlyList<AuditRecord> Records => [.. _records];

    public void Write(AuditRecord record) => _records.Enqueue(record);

    /// <summary>The first record matching <paramref name="match"/>, waiting up to 30 s for it.</summary>
    public async Task<AuditRecord> WaitForAsync(Func<AuditRecord, bool> match, string what)
    {
        AuditRecord? found = null;
        await Eventually.TrueAsync(
            () => Task.FromResult((found = _records.FirstOrDefault(match)) is not null),
            () => $"an audit record: {what}; have:\n{string.Join("\n", _records.Select(r => $"{r.Kind} {r.ConnectionId} {r.Decision} {r.Reason} {r.Detail}"))}",
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(50));
        return found!;
    }
}

/// <summary>A policy source the test sets.</summary>
internal sealed class MutablePolicySource(CompiledPolicy initial) : IPolicySource
{
    private CompiledPolicy _current = initial;

    public CompiledPolicy Current => Volatile.Read(ref _current);

    public event EventHandler? Changed;

    public void Set(CompiledPolicy policy)
    {
        Volatile.Write(ref _current, policy);
        Changed?.Invoke(this, EventArgs.Empty);
    }
}

/// <summary>Policies built from the model records (the YAML parser is another helper's).</summary>
internal static class Policies
{
    public static PolicyRule Allow(string name, SpiffeId from, SpiffeId to, int? port = null, params string[] selectors) =>
        new(name, PolicyAction.Allow, new FromMatch(new IdentityPattern.Exact(from), selectors), new ToMatch(new IdentityPattern.Exact(to), port));

    public static PolicyRule Deny(string name, IdentityPattern from, IdentityPattern to) =>
        new(name, PolicyAction.Deny, new FromMatch(from, []), new ToMatch(to, null));

    public static CompiledPolicy Of(string version, params PolicyRule[] rules) =>
        CompiledPolicy.Compile(new CommunicationPolicy("test", rules), version);
}

/// <summary>
/// A remote service: an mTLS echo server presenting the SVID of <paramref name="svids"/> and
/// verifying clients with <paramref name="bundles"/>. It records every TCP connection it accepts
/// and the SPIFFE ID of every client whose handshake succeeded.
/// </summary>
internal sealed class TlsEchoService : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<SpiffeId> _peers = new();
    private readonly IX509SvidSource _svids;
    private readonly IX509BundleSource _bundles;
    private readonly Task _loop;
    private int _accepted;

    /// <param name="svids">What the service presents.</param>
    /// <param name="bundles">What it verifies clients with.</param>
    /// <param name="address">Where it listens (default 127.0.0.1), on a free port.</param>
    public TlsEchoService(IX509SvidSource svids, IX509BundleSource bundles, IPAddress? address = null)
    {
        _listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        _svids = svids;
        _bundles = bundles;
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>TCP connections accepted.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>How each served connection ended.</summary>
    public ConcurrentQueue<string> Ends { get; } = new();

    /// <summary>Clients that completed the handshake.</summary>
    public IReadOnlyList<SpiffeId> Peers => [.. _peers];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(SpiffeTls.MtlsServer(_svids, _bundles, Authorizer.Any()), _stop.Token);
                _peers.Enqueue(SpiffeTls.PeerId(tls));
                var buffer = new byte[4096];
                int read;
                while ((read = await tls.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    await tls.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                }

                Ends.Enqueue("eof");
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
            {
                // The gate or the test closed it.
                Ends.Enqueue(e.GetType().Name + ": " + e.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>A plain TCP echo server (the local application behind an inbound gate).</summary>
internal sealed class PlainEchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _accepted;

    /// <param name="address">Where it listens (default 127.0.0.1), on a free port.</param>
    public PlainEchoServer(IPAddress? address = null)
    {
        _listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[4096];
                        int read;
                        while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                        {
                            await stream.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                        }
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                    {
                        // Closed.
                    }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>Clients of a gate listener, in this process or as other processes (other executables, other uids).</summary>
internal static class GateClients
{
    /// <summary>This test host's executable, as /proc/pid/exe shows it.</summary>
    public static string OwnExe => new FileInfo("/proc/self/exe").LinkTarget!;

    /// <summary>The python interpreter's real path (the unix:path selector a python client gets).</summary>
    public static string PythonExe => new FileInfo("/usr/bin/python3").ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? "/usr/bin/python3";

    /// <summary>Connects from this process to a unix socket listener.</summary>
    public static async Task<Stream> ConnectUnixAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Connects from this process to a TCP listener.</summary>
    public static async Task<Stream> ConnectTcpAsync(EndPoint endpoint)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endpoint);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Writes <paramref name="text"/> and reads the same number of bytes back (30 s bound).</summary>
    public static async Task<string> EchoAsync(Stream stream, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var bytes = Encoding.ASCII.GetBytes(text);
        await stream.WriteAsync(bytes, timeout.Token);
        var buffer = new byte[bytes.Length];
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer);
    }

    /// <summary>True once the gate closed the stream (read returns 0 or fails), waiting up to 30 s.</summary>
    public static async Task<bool> ClosedAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[256];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs a python client in another process (optionally as uid/gid 65534 through setpriv): it
    /// connects to <paramref name="address"/> (<c>unix:PATH</c> or <c>tcp:PORT</c>), sends a line
    /// and prints how many bytes came back before the gate closed the connection.
    /// </summary>
    public static Task<(int Pid, string Output)> PythonAsync(string address, bool asNobody = false)
    {
        const string script = """
            import socket, sys
            kind, where = sys.argv[1].split(':', 1)
            if kind == 'unix':
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(where)
            else:
                s = socket.create_connection(('127.0.0.1', int(where)))
            s.settimeout(20)
            got = 0
            try:
                s.sendall(b'hello from a rogue\n')
                s.shutdown(socket.SHUT_WR)
                while True:
                    data = s.recv(4096)
                    if not data:
                        break
                    got += len(data)
            except (ConnectionResetError, BrokenPipeError):
                pass
            except OSError as e:
                if e.errno != 107:  # ENOTCONN: the peer reset the connection before the half-close
                    raise
            print(got)
            """;
        string[] command = asNobody
            ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PythonExe, "-c", script, address]
            : [PythonExe, "-c", script, address];
        return RunAsync(command);
    }

    /// <summary>Like <see cref="PythonAsync"/> with node (another executable).</summary>
    public static Task<(int Pid, string Output)> NodeAsync(string address)
    {
        const string script = """
            const net = require('net');
            const [kind, where] = [process.argv[1].slice(0, process.argv[1].indexOf(':')), process.argv[1].slice(process.argv[1].indexOf(':') + 1)];
            const s = kind === 'unix' ? net.connect(where) : net.connect(Number(where), '127.0.0.1');
            let got = 0;
            s.on('connect', () => s.end('hello from a rogue\n'));
            s.on('data', d => { got += d.length; });
            s.on('error', () => {});
            s.on('close', () => console.log(got));
            """;
        return RunAsync(["/usr/bin/node", "-e", script, address]);
    }

    private static async Task<(int Pid, string Output)> RunAsync(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in command.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{command[0]} failed: {await error}");
        return (process.Id, (await output).Trim());
    }
}
