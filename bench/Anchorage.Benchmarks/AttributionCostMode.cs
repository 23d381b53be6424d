using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Kernel;

namespace Anchorage.Benchmarks;

/// <summary>
/// <c>attribution</c> mode (bench/attribution.sh): what finding the process behind one accepted
/// connection costs, per connection, with the eBPF records (kernel mode) and without (fallback),
/// for loopback TCP and a unix socket; first on a quiet host, then with 1000 idle processes and
/// 10,000 TIME_WAIT sockets added. Prints <c>attribution tcp kernel quiet: p50=12.3us p99=40.1us</c>
/// lines and the loaded/quiet ratio of each p50.
/// </summary>
/// <remarks>
/// The process moves itself into a cgroup of its own under /sys/fs/cgroup/unified (root only),
/// attaches the programs there, and connects to itself: only the attribution call is timed
/// (<see cref="ConnectionAttributor.AttributeTcp"/> / <see cref="ConnectionAttributor.AttributeUnix"/>,
/// which include the record lookup, sock_diag, the pidfd and the checks), not connect or accept.
/// </remarks>
internal static class AttributionCostMode
{
    private const string CgroupRoot = "/sys/fs/cgroup/unified";

    public static int Run(string[] args)
    {
        var samples = 2000;
        var fallbackSamples = 200;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--samples" when i + 1 < args.Length:
                    samples = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--fallback-samples" when i + 1 < args.Length:
                    fallbackSamples = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine("usage: attribution [--samples N] [--fallback-samples N]");
                    return 2;
            }
        }

        var cgroup = Path.Combine(CgroupRoot, "anchorage-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(cgroup);
        var sleepers = new List<Process>();
        var timeWait = new List<Socket>();
        try
        {
            File.WriteAllText(Path.Combine(cgroup, "cgroup.procs"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            using var kernel = new ConnectionAttributor(KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup]), requireRecord: true);
            var fallback = ConnectionAttributor.FallbackOnly;
            using var tcpListener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcpListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            tcpListener.Listen(512);
            var unixPath = Path.Combine(Path.GetTempPath(), $"anchorage-bench-{Environment.ProcessId}.sock");
            File.Delete(unixPath);
            using var unixListener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            unixListener.Bind(new UnixDomainSocketEndPoint(unixPath));
            unixListener.Listen(512);

            var quiet = Measure("quiet", kernel, fallback, tcpListener, unixListener, unixPath, samples, fallbackSamples);

            Console.WriteLine("# starting 1000 idle processes and making 10000 TIME_WAIT sockets ...");
            for (var i = 0; i < 1000; i++)
            {
                sleepers.Add(Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!);
            }

            MakeTimeWait(10_000);
            var loaded = Measure("loaded", kernel, fallback, tcpListener, unixListener, unixPath, samples, fallbackSamples);
            foreach (var key in quiet.Keys)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"attribution {key} p50 loaded/quiet = {loaded[key] / quiet[key]:F2}x"));
            }

            File.Delete(unixPath);
            return 0;
        }
        finally
        {
            foreach (var sleeper in sleepers)
            {
                sleeper.Kill();
                sleeper.WaitForExit();
                sleeper.Dispose();
            }

            File.WriteAllText(Path.Combine(CgroupRoot, "cgroup.procs"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            RemoveCgroup(cgroup);
        }
    }

    // A cgroup can be removed once its last (reaped) process has left it.
    private static void RemoveCgroup(string cgroup)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Delete(cgroup);
                return;
            }
            catch (IOException) when (attempt < 500)
            {
                Thread.Sleep(20);
            }
        }
    }

    private static Dictionary<string, double> Measure(
        string state, ConnectionAttributor kernel, ConnectionAttributor fallback, Socket tcpListener, Socket unixListener, string unixPath, int samples, int fallbackSamples)
    {
        var p50 = new Dictionary<string, double>();
        foreach (var (name, attributor, count) in new[] { ("kernel", kernel, samples), ("fallback", fallback, fallbackSamples) })
        {
            var tcp = new double[count];
            var unix = new double[count];
            for (var i = 0; i < count; i++)
            {
                using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
                {
                    client.Connect(tcpListener.LocalEndPoint!);
                    using var accepted = tcpListener.Accept();
                    var start = Stopwatch.GetTimestamp();
                    using (attributor.AttributeTcp((IPEndPoint)accepted.LocalEndPoint!, (IPEndPoint)accepted.RemoteEndPoint!))
                    {
                        tcp[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                    }
                }

                using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
                {
                    client.Connect(new UnixDomainSocketEndPoint(unixPath));
                    using var accepted = unixListener.Accept();
                    var start = Stopwatch.GetTimestamp();
                    using (attributor.AttributeUnix(accepted))
                    {
                        unix[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                    }
                }
            }

            p50[$"tcp {name}"] = Report($"tcp {name} {state}", tcp);
            p50[$"unix {name}"] = Report($"unix {name} {state}", unix);
        }

        return p50;
    }

    private static double Report(string label, double[] micros)
    {
        Array.Sort(micros);
        var p50 = micros[micros.Length / 2];
        var p99 = micros[Math.Min(micros.Length - 1, micros.Length * 99 / 100)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"attribution {label}: p50={p50:F1}us p99={p99:F1}us (n={micros.Length})"));
        return p50;
    }

    private static void MakeTimeWait(int count)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        for (var i = 0; i < count; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var accepted = listener.Accept();

            // The side that closes first keeps the connection in TIME_WAIT.
            client.Close();
        }
    }
}
