using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Anchorage.Benchmarks;

/// <summary>
/// <c>ratio</c> mode: single-threaded throughput of the three hot SVID operations, printed as
/// <c>name&lt;TAB&gt;ops_per_second</c> for bench/crypto-ratio.sh to set against
/// <c>openssl speed ecdsap256</c>.
/// </summary>
/// <remarks>
/// <para>By default the rate is per second of CPU time of the measuring thread, because plain
/// <c>openssl speed</c> also divides by CPU time (its single thread's user time): on a shared
/// machine both sides then leave out time spent waiting for a core. <c>--clock wall</c> divides
/// by wall-clock time instead (pair it with <c>openssl speed -elapsed</c>). Both figures are also
/// printed on comment lines starting with <c>#</c>.</para>
/// <para>Every operation is measured in 250 ms slices taken in turn, so a burst of load from
/// other processes, and any late tier-up of shared code, falls on all of them alike; the rate is
/// the total over the slices. A warm-up that cycles through all operations comes first: tiered
/// compilation with dynamic PGO needs a few seconds of steady calls to reach its final code, and
/// without it whichever operation was measured first came out up to 40% slower.</para>
/// </remarks>
internal static class RatioMode
{
    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(250);

    public static int Run(string[] args)
    {
        var seconds = 3.0;
        var warmup = 3.0;
        var wall = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--warmup" when i + 1 < args.Length:
                    warmup = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--clock" when i + 1 < args.Length && args[i + 1] is "cpu" or "wall":
                    wall = args[++i] == "wall";
                    break;
                default:
                    Console.Error.WriteLine("usage: ratio [--seconds 3] [--warmup 3] [--clock cpu|wall]");
                    return 2;
            }
        }

        var x509 = new Fixtures.X509();
        var verifier = x509.WarmVerifier();
        var jwt = new Fixtures.Jwt();
        var ops = new Op[]
        {
            new("x509-svid-verify-intermediate-cached", () => verifier.Verify(x509.LeafViaIntermediate, x509.Bundles, x509.At)),
            new("x509-svid-verify-leaf-under-root", () => verifier.Verify(x509.LeafUnderRoot, x509.Bundles, x509.At)),
            new("jwt-svid-es256-validate", () => jwt.Validator.Validate(jwt.TokenWithKid, Fixtures.Audience, jwt.Bundles)),
        };

        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < warmup)
        {
            foreach (var op in ops)
            {
                op.Measure(TimeSpan.FromMilliseconds(50));
            }
        }

        foreach (var op in ops)
        {
            op.Reset();
        }

        var slices = Math.Max(1, (int)Math.Round(seconds / Slice.TotalSeconds));
        for (var s = 0; s < slices; s++)
        {
            foreach (var op in ops)
            {
                op.Measure(Slice);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# ratio: {slices * Slice.TotalSeconds:0.##} s per op in {Slice.TotalMilliseconds:0} ms slices after {warmup:0.##} s of warm-up, single thread, rate per {(wall ? "wall-clock" : "thread CPU")} second"));
        foreach (var op in ops)
        {
            var perCpu = op.Count / op.CpuSeconds;
            var perWall = op.Count / op.WallSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{op.Name}\t{(wall ? perWall : perCpu):0}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# {op.Name}: {perCpu:0}/s per CPU second, {perWall:0}/s wall-clock ({op.CpuSeconds / op.WallSeconds:P0} of a core)"));
        }

        return 0;
    }

    private sealed class Op(string name, Action action)
    {
        public string Name { get; } = name;

        public long Count { get; private set; }

        public double CpuSeconds { get; private set; }

        public double WallSeconds { get; private set; }

        public void Reset() => (Count, CpuSeconds, WallSeconds) = (0, 0, 0);

        /// <summary>Runs the operation for <paramref name="duration"/> and adds to the totals.</summary>
        public void Measure(TimeSpan duration)
        {
            var cpuStart = ThreadCpu.Seconds();
            var start = Stopwatch.GetTimestamp();
            var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long count = 0;
            long now;
            do
            {
                action();
                count++;
                now = Stopwatch.GetTimestamp();
            }
            while (now < end);

            CpuSeconds += ThreadCpu.Seconds() - cpuStart;
            WallSeconds += (now - start) / (double)Stopwatch.Frequency;
            Count += count;
        }
    }

    /// <summary>CPU time of the calling thread (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>, nanosecond resolution).</summary>
    private static class ThreadCpu
    {
        private const int ClockThreadCpuTimeId = 3;

        public static double Seconds()
        {
            if (!OperatingSystem.IsLinux() || ClockGetTime(ClockThreadCpuTimeId, out var time) != 0)
            {
                throw new PlatformNotSupportedException("ratio mode needs Linux's per-thread CPU clock; use --clock wall");
            }

            return time.Seconds + (time.Nanoseconds / 1e9);
        }

        [DllImport("libc", EntryPoint = "clock_gettime")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int ClockGetTime(int clockId, out TimeSpec time);

        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec
        {
            public long Seconds;
            public long Nanoseconds;
        }
    }
}
