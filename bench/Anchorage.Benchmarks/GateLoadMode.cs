using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Benchmarks;

/// <summary>
/// <c>gate-echo</c> and <c>gate-load</c> modes: the backend and the load generator of
/// bench/gate.sh. The same client measures every path (through the gates, through stunnel, direct
/// mTLS), so the ratios compare the paths, not the clients.
/// <list type="bullet">
/// <item><c>gate-echo --listen 127.0.0.1:P [--cert F --key F --ca F]</c>: echoes every byte back
/// until the client closes; with the PEM files it terminates mTLS first (client certificate
/// required, chained to the CA file).</item>
/// <item><c>gate-load --connect host:port|unix:/path --mode conn|stream --clients C --seconds S
/// [--cert F --key F --ca F] [--label L]</c>: <c>conn</c> is a closed loop per client (connect,
/// [mTLS handshake], one byte out and back, close) and prints
/// <c>L conn c=C: conn/s=N p50=..ms p99=..ms errors=E</c>; <c>stream</c> keeps C connections
/// echoing 64 KiB chunks and prints <c>L stream c=C: MB/s=N</c> (bytes echoed back, both
/// directions through the path).</item>
/// </list>
/// </summary>
internal static class GateLoadMode
{
    private const int Chunk = 64 * 1024;

    public static int RunEcho(string[] args)
    {
        var o = Options.Parse(args);
        var endpoint = IPEndPoint.Parse(o.Listen ?? throw new ArgumentException("--listen is required"));
        var tls = o.Tls();
        using var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endpoint);
        listener.Listen(4096);
        Console.WriteLine($"gate-echo listening on {listener.LocalEndPoint}");
        while (true)
        {
            var socket = listener.Accept();
            _ = Task.Run(() => EchoAsync(socket, tls));
        }
    }

    public static int RunLoad(string[] args)
    {
        var o = Options.Parse(args);
        var tls = o.Tls();
        var label = o.Label ?? "load";
        var connect = o.Connect ?? throw new ArgumentException("--connect is required");
        if (o.Mode == "idle")
        {
            return Idle(connect, tls, o.Clients[0], TimeSpan.FromSeconds(o.Seconds), label);
        }

        foreach (var clients in o.Clients)
        {
            // A short warm-up at the same concurrency: JIT, TLS session state, pools.
            if (o.Mode == "stream")
            {
                _ = Stream(connect, tls, clients, TimeSpan.FromSeconds(1));
            }
            else
            {
                _ = Conn(connect, tls, clients, TimeSpan.FromSeconds(1));
            }

            if (o.Mode == "stream")
            {
                var bytes = Stream(connect, tls, clients, TimeSpan.FromSeconds(o.Seconds));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label} stream c={clients}: MB/s={bytes / o.Seconds / 1e6:F1}"));
            }
            else
            {
                var (latencies, errors) = Conn(connect, tls, clients, TimeSpan.FromSeconds(o.Seconds));
                latencies.Sort();
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{label} conn c={clients}: conn/s={latencies.Count / o.Seconds:F0} p50={Percentile(latencies, 0.50):F2}ms p99={Percentile(latencies, 0.99):F2}ms errors={errors}"));
            }
        }

        return 0;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static (List<double> Latencies, int Errors) Conn(string connect, TlsFiles? tls, int clients, TimeSpan duration)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var all = new List<double>();
        var errors = 0;
        var tasks = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var mine = new List<double>();
            var buffer = new byte[1];
            while (Stopwatch.GetTimestamp() < until)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    var stream = await OpenAsync(connect, tls).ConfigureAwait(false);
                    await using var _ = stream.ConfigureAwait(false);
                    buffer[0] = 42;
                    await stream.WriteAsync(buffer).ConfigureAwait(false);
                    if (await stream.ReadAsync(buffer).ConfigureAwait(false) != 1 || buffer[0] != 42)
                    {
                        throw new IOException("no echo");
                    }

                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
                {
                    Interlocked.Increment(ref errors);
                }
            }

            lock (all)
            {
                all.AddRange(mine);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return (all, errors);
    }

    // Opens `clients` connections, proves each one carries a byte both ways, holds them all idle
    // for `hold`, then closes them. Prints "LABEL idle c=N: held" once all are open, so a script
    // can read the agent's memory while they are held.
    private static int Idle(string connect, TlsFiles? tls, int clients, TimeSpan hold, string label)
    {
        var open = new List<Stream>(clients);
        var errors = 0;
        var buffer = new byte[1];
        for (var i = 0; i < clients; i++)
        {
            try
            {
                var stream = OpenAsync(connect, tls).GetAwaiter().GetResult();
                open.Add(stream);
                buffer[0] = 42;
                stream.Write(buffer);
                if (stream.Read(buffer) != 1 || buffer[0] != 42)
                {
                    throw new IOException("no echo");
                }
            }
            catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
            {
                errors++;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label} idle c={clients}: held errors={errors}"));
        Thread.Sleep(hold);
        foreach (var stream in open)
        {
            stream.Dispose();
        }

        return errors == 0 ? 0 : 1;
    }

    private static long Stream(string connect, TlsFiles? tls, int clients, TimeSpan duration)
    {
        long total = 0;
        var tasks = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            Stream stream;
            try
            {
                stream = await OpenAsync(connect, tls).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
            {
                await Console.Error.WriteLineAsync("stream: cannot connect: " + e.Message).ConfigureAwait(false);
                return;
            }

            await using var _ = stream.ConfigureAwait(false);
            using var cts = new CancellationTokenSource(duration);
            var payload = new byte[Chunk];
            Random.Shared.NextBytes(payload);
            var sink = new byte[Chunk];
            var reader = Task.Run(async () =>
            {
                try
                {
                    int n;
                    while ((n = await stream.ReadAsync(sink, cts.Token).ConfigureAwait(false)) > 0)
                    {
                        Interlocked.Add(ref total, n);
                    }
                }
                catch (OperationCanceledException)
                {
                    // Measuring time is over.
                }
                catch (IOException)
                {
                    // The path closed the connection; the bytes counted so far stand.
                }
            });
            try
            {
                while (!cts.IsCancellationRequested)
                {
                    await stream.WriteAsync(payload, cts.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Measuring time is over.
            }
            catch (IOException)
            {
                // The path closed the connection; the bytes counted so far stand.
            }

            await reader.ConfigureAwait(false);
        })).ToArray();
        Task.WaitAll(tasks);
        return Interlocked.Read(ref total);
    }

    private static async Task<Stream> OpenAsync(string connect, TlsFiles? tls)
    {
        Socket socket;
        if (connect.StartsWith("unix:", StringComparison.Ordinal))
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(connect["unix:".Length..])).ConfigureAwait(false);
        }
        else
        {
            var endpoint = IPEndPoint.Parse(connect);
            socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(endpoint).ConfigureAwait(false);
        }

        var network = new NetworkStream(socket, ownsSocket: true);
        if (tls is null)
        {
            return network;
        }

        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "anchorage-bench",
            ClientCertificates = [tls.Certificate],
            CertificateChainPolicy = tls.ChainPolicy(),
            RemoteCertificateValidationCallback = static (_, cert, chain, errors) =>
                cert is not null && (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None,
        }).ConfigureAwait(false);
        return ssl;
    }

    private static async Task EchoAsync(Socket socket, TlsFiles? tls)
    {
        socket.NoDelay = true;
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = tls.Certificate,
                    ClientCertificateRequired = true,
                    CertificateChainPolicy = tls.ChainPolicy(),
                    RemoteCertificateValidationCallback = static (_, cert, _, errors) => cert is not null && errors == SslPolicyErrors.None,
                }).ConfigureAwait(false);
                stream = ssl;
            }

            var buffer = new byte[Chunk];
            int n;
            while ((n = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            // A client that went away; the next one is served.
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed record TlsFiles(X509Certificate2 Certificate, X509Certificate2Collection Roots)
    {
        public X509ChainPolicy ChainPolicy()
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(Roots);
            return policy;
        }
    }

    private sealed class Options
    {
        public string? Listen { get; private set; }

        public string? Connect { get; private set; }

        public string Mode { get; private set; } = "conn";

        public List<int> Clients { get; private set; } = [1];

        public double Seconds { get; private set; } = 5;

        public string? Label { get; private set; }

        private string? Cert { get; set; }

        private string? Key { get; set; }

        private string? Ca { get; set; }

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (var i = 0; i + 1 < args.Length; i += 2)
            {
                var v = args[i + 1];
                switch (args[i])
                {
                    case "--listen": o.Listen = v; break;
                    case "--connect": o.Connect = v; break;
                    case "--mode": o.Mode = v is "conn" or "stream" or "idle" ? v : throw new ArgumentException("--mode is conn, stream or idle"); break;
                    case "--clients": o.Clients = [.. v.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
                    case "--seconds": o.Seconds = double.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--label": o.Label = v; break;
                    case "--cert": o.Cert = v; break;
                    case "--key": o.Key = v; break;
                    case "--ca": o.Ca = v; break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }

            return o;
        }

        public TlsFiles? Tls()
        {
            if (Cert is null)
            {
                return null;
            }

            // The chain file holds the leaf first (and intermediates); the key file its key.
            using var pem = X509Certificate2.CreateFromPemFile(Cert, Key);

            // SslStream on Linux wants a key it can export to OpenSSL: round-trip through PKCS#12.
            var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(Ca ?? throw new ArgumentException("--ca is required with --cert"));
            return new TlsFiles(certificate, roots);
        }
    }
}
