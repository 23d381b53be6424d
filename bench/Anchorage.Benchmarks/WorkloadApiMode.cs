using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Anchorage.Protos.Workload;
using Grpc.Core;
using Grpc.Net.Client;

namespace Anchorage.Benchmarks;

/// <summary>
/// <c>workload-api</c> mode: the load generator of bench/workload-api.sh. Against a running agent's
/// Workload API unix socket it measures the latency of the FIRST <c>FetchX509SVID</c> response on a
/// fresh connection (connect + HTTP/2 preface and SETTINGS + call + first message), with
/// <c>c</c> concurrent clients in a closed loop (each client: new connection, call, first message,
/// close, again, for <c>--seconds</c>). Prints
/// <c>fetch-x509 c=100: p50=0.8ms p99=3.1ms</c> per level, and the same for the reference: a gRPC
/// health <c>Check</c> on a fresh connection to the same socket and server (same transport,
/// Kestrel, gRPC stack and connection-time peer lookup, but no attestation, no cache lookup and a
/// 2-byte answer instead of an SVID with its key and bundle).
/// </summary>
internal static class WorkloadApiMode
{
    private static readonly Metadata SecurityHeader = [new("workload.spiffe.io", "true")];

    // grpc.health.v1.Health/Check with raw bytes: the request (service "") encodes as zero bytes.
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(static b => b, static b => b);
    private static readonly Method<byte[], byte[]> HealthCheck = new(MethodType.Unary, "grpc.health.v1.Health", "Check", Raw, Raw);

    public static int Run(string[] args)
    {
        try
        {
            return Measure(args);
        }
        catch (AgentExitedException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    private static int Measure(string[] args)
    {
        string? socket = null;
        string? expect = null;
        var levels = new List<int> { 1, 100, 1000 };
        var seconds = 5.0;
        // Long enough for the agent's tiered JIT to settle (perf: per-call agent CPU halves between 2 s and 20 s of load); a daemon runs for days.
        var warmup = 20.0;
        var reference = true;
        int? agentPid = null;
        var bundlesProbe = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--socket" when i + 1 < args.Length:
                    socket = args[++i];
                    break;
                case "--expect-id" when i + 1 < args.Length:
                    expect = args[++i];
                    break;
                case "--clients" when i + 1 < args.Length:
                    levels = [.. args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
                    break;
                case "--seconds" when i + 1 < args.Length:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--warmup" when i + 1 < args.Length:
                    warmup = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--agent-pid" when i + 1 < args.Length:
                    agentPid = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--bundles-probe":
                    bundlesProbe = true;
                    break;
                case "--no-reference":
                    reference = false;
                    break;
                default:
                    socket = null;
                    i = args.Length;
                    break;
            }
        }

        if (socket is null)
        {
            Console.Error.WriteLine("usage: workload-api --socket PATH [--expect-id SPIFFE_ID] [--clients 1,100,1000] [--seconds 5] [--warmup 20] [--no-reference] [--agent-pid PID] [--bundles-probe]");
            return 2;
        }

        // 1000 clients are 1000 concurrent async loops: let the pool grow without its hill-climbing delay.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(io, 64));

        var fetch = new Probe("fetch-x509", ct => FetchFirstAsync(socket, expect, ct));
        var health = new Probe("reference grpc-health", ct => HealthCheckAsync(socket, ct));
        var bundles = new Probe("x509-bundles", ct => FetchBundlesFirstAsync(socket, ct));

        // One call of each first, so a wrong socket or a missing identity fails fast and clearly.
        try
        {
            fetch.Call(CancellationToken.None).GetAwaiter().GetResult();
            health.Call(CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is RpcException or IOException or SocketException or HttpRequestException or InvalidDataException)
        {
            Console.Error.WriteLine($"workload-api: first call failed: {e.Message}");
            return 1;
        }

        // Warm-up (JIT on both sides, Kestrel's pools): a few concurrent clients, not measured.
        if (warmup > 0)
        {
            RunLevel(fetch, 4, TimeSpan.FromSeconds(warmup / 2));
            if (reference)
            {
                RunLevel(health, 4, TimeSpan.FromSeconds(warmup / 2));
            }
        }

        var failed = false;
        foreach (var c in levels)
        {
            List<Probe> probes = reference ? [fetch, health] : [fetch];
            if (bundlesProbe)
            {
                probes.Add(bundles);
            }

            foreach (var probe in probes)
            {
                var agentBefore = AgentCpu(agentPid);
                var selfBefore = Environment.CpuUsage.TotalTime;
                var result = RunLevel(probe, c, TimeSpan.FromSeconds(seconds));
                var agentUs = (AgentCpu(agentPid) - agentBefore).TotalMicroseconds / Math.Max(1, result.Count);
                var selfUs = (Environment.CpuUsage.TotalTime - selfBefore).TotalMicroseconds / Math.Max(1, result.Count);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{probe.Name} c={c}: p50={Ms(result.Percentile(0.50))}ms p99={Ms(result.Percentile(0.99))}ms"));
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"# {probe.Name} c={c}: {result.Count} calls in {result.Elapsed.TotalSeconds:0.0}s = {result.Count / result.Elapsed.TotalSeconds:0}/s, p90={Ms(result.Percentile(0.90))}ms max={Ms(result.Percentile(1.0))}ms, cpu per call: agent {(agentPid is null ? "?" : agentUs.ToString("0", CultureInfo.InvariantCulture))}us client {selfUs:0}us, errors={result.Errors}{result.FirstError}"));
                failed |= result.Count == 0;
            }
        }

        return failed ? 1 : 0;
    }

    // utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, after the "(comm)").
    private static TimeSpan AgentCpu(int? pid)
    {
        if (pid is not { } p)
        {
            return TimeSpan.Zero;
        }

        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{p.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            throw new AgentExitedException(p);
        }

        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
    }

    private static string Ms(double ms) => ms >= 10 ? ms.ToString("0", CultureInfo.InvariantCulture) : ms.ToString("0.0#", CultureInfo.InvariantCulture);

    private static LevelResult RunLevel(Probe probe, int clients, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource();
        var samples = new List<double>[clients];
        var errors = new int[clients];
        string? firstError = null;
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var tasks = new Task[clients];
        for (var i = 0; i < clients; i++)
        {
            var mine = samples[i] = new List<double>(1024);
            var index = i;
            tasks[i] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < end)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await probe.Call(stop.Token).ConfigureAwait(false);
                        mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    }
                    catch (Exception e) when (e is RpcException or IOException or SocketException or HttpRequestException or InvalidDataException or OperationCanceledException)
                    {
                        errors[index]++;
                        Interlocked.CompareExchange(ref firstError, $" (first: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")})", null);
                    }
                }
            });
        }

        Task.WaitAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(start);
        var all = samples.SelectMany(s => s).ToArray();
        Array.Sort(all);
        return new LevelResult(all, errors.Sum(), firstError ?? "", elapsed);
    }

    private static GrpcChannel Channel(string path) =>
        GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellationToken) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            },
            DisposeHttpClient = true,
        });

    // The timed region: the channel is only an object until its first call, so the connect, the
    // HTTP/2 handshake, the call and the first message are all inside it; the stream is then
    // cancelled and the connection closed (also inside: a real workload pays that too, but it
    // overlaps with the next client's work).
    private static async Task FetchFirstAsync(string path, string? expect, CancellationToken cancellationToken)
    {
        using var channel = Channel(path);
        var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        using var call = client.FetchX509SVID(new X509SVIDRequest(), SecurityHeader, cancellationToken: cancellationToken);
        if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidDataException("the stream ended without a response");
        }

        var response = call.ResponseStream.Current;
        if (response.Svids.Count == 0 || (expect is not null && response.Svids[0].SpiffeId != expect))
        {
            throw new InvalidDataException($"unexpected identity: {string.Join(",", response.Svids.Select(s => s.SpiffeId))}");
        }
    }

    // For profiling (--bundles-probe): the same streaming path, attestation and cache lookup as
    // FetchX509SVID, but no SVID and no private key in the answer.
    private static async Task FetchBundlesFirstAsync(string path, CancellationToken cancellationToken)
    {
        using var channel = Channel(path);
        var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        using var call = client.FetchX509Bundles(new X509BundlesRequest(), SecurityHeader, cancellationToken: cancellationToken);
        if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false) || call.ResponseStream.Current.Bundles.Count == 0)
        {
            throw new InvalidDataException("no bundles");
        }
    }

    private static async Task HealthCheckAsync(string path, CancellationToken cancellationToken)
    {
        using var channel = Channel(path);
        var answer = await channel.CreateCallInvoker()
            .AsyncUnaryCall(HealthCheck, null, new CallOptions(cancellationToken: cancellationToken), [])
            .ConfigureAwait(false);

        // HealthCheckResponse { status = SERVING (1) } is the two bytes 08 01.
        if (answer is not [0x08, 0x01])
        {
            throw new InvalidDataException("health check did not answer SERVING");
        }
    }

    private sealed class Probe(string name, Func<CancellationToken, Task> call)
    {
        public string Name { get; } = name;

        public Func<CancellationToken, Task> Call { get; } = call;
    }

    private sealed record LevelResult(double[] Sorted, int Errors, string FirstError, TimeSpan Elapsed)
    {
        public int Count => Sorted.Length;

        // Nearest-rank percentile.
        public double Percentile(double p) =>
            Sorted.Length == 0 ? double.NaN : Sorted[Math.Clamp((int)Math.Ceiling(p * Sorted.Length) - 1, 0, Sorted.Length - 1)];
    }

    /// <summary>The agent under measurement is gone: what the run says instead of a stack trace.</summary>
    private sealed class AgentExitedException(int pid)
        : Exception($"workload-api: the agent (pid {pid.ToString(CultureInfo.InvariantCulture)}) exited during the run; see its log")
    {
    }
}
