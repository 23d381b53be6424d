using System.Diagnostics;
using System.Globalization;
using Anchorage.Policy;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Benchmarks;

/// <summary>
/// <c>policy</c> mode (bench/policy.sh): the latency distribution of one
/// <see cref="CompiledPolicy.Decide"/> at several policy sizes, printed as
/// <c>policy rules=10000: p50=0.21us p99=0.60us</c>.
/// </summary>
/// <remarks>
/// <para>Each decision is timed on its own with <see cref="Stopwatch.GetTimestamp"/> (on Linux a
/// nanosecond clock, so a decision of a few hundred nanoseconds is well above its resolution); the
/// median cost of reading the clock twice around nothing is measured first and subtracted from
/// every sample. As a cross-check the mean over one untimed batch of the same decisions is printed
/// on a comment line: it must sit near p50.</para>
/// <para>Policies are generated with a fixed seed and mix every kind of rule an operator writes
/// (exact IDs, path prefixes, trust domains, selectors, ports, allows and denies); half the
/// requests are built to hit a random rule and half are random IDs of the same trust domains,
/// which mostly miss and are denied by default.</para>
/// </remarks>
internal static class PolicyMode
{

    public static int Run(string[] args)
    {
        int[] sizes = [10, 1_000, 10_000, 100_000];
        var decisions = 2_000_000;
        var seed = 42;
        var requestCount = 1 << 16;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rules" when i + 1 < args.Length:
                    sizes = [.. args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
                    break;
                case "--decisions" when i + 1 < args.Length:
                    decisions = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--requests" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var n) && n > 0 && (n & (n - 1)) == 0:
                    requestCount = n;
                    i++;
                    break;
                case "--seed" when i + 1 < args.Length:
                    seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine("usage: policy [--rules 10,1000,10000,100000] [--decisions 2000000] [--requests 65536 (a power of 2)] [--seed 42]");
                    return 2;
            }
        }

        var overhead = TimerOverhead();
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"# clock: Stopwatch.Frequency={Stopwatch.Frequency}/s, median cost of a timed empty region {ToMicroseconds(overhead):0.000}us (subtracted)"));
        foreach (var size in sizes)
        {
            Measure(size, decisions, requestCount, seed, overhead);
        }

        return 0;
    }

    private static void Measure(int size, int decisions, int requestCount, int seed, long overhead)
    {
        var random = new Random(seed);
        var world = new World(size, random);
        var rules = Enumerable.Range(0, size).Select(world.Rule).ToList();
        var compileStart = Stopwatch.GetTimestamp();
        var policy = CompiledPolicy.Compile(new CommunicationPolicy("bench", rules), "bench");
        var compile = Stopwatch.GetElapsedTime(compileStart);
        var requests = new PolicyRequest[requestCount];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = i % 2 == 0 ? world.Hit(rules[random.Next(rules.Count)]) : world.Random();
        }

        // Warm-up: tiered compilation and dynamic PGO settle after a few hundred thousand calls.
        var allowed = 0;
        for (var i = 0; i < 1_000_000; i++)
        {
            allowed += policy.Decide(requests[i & (requestCount - 1)]).Allowed ? 1 : 0;
        }

        // Fresh: each request's IDs and selectors are new objects, as the gate's are right after the
        // handshake and attestation; only the index can be cold. Stored: the same 2^16 requests are
        // reused, so the request objects are usually cold too (the harder, less realistic case).
        var fresh = Sample(policy, requests, decisions, overhead, copy: true, ref allowed);
        var stored = Sample(policy, requests, decisions, overhead, copy: false, ref allowed);
        var batchStart = Stopwatch.GetTimestamp();
        for (var i = 0; i < decisions; i++)
        {
            allowed += policy.Decide(requests[i & (requests.Length - 1)]).Allowed ? 1 : 0;
        }

        var batchMean = (double)(Stopwatch.GetTimestamp() - batchStart) / decisions;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"policy rules={size}: p50={At(fresh, 0.50):0.00}us p99={At(fresh, 0.99):0.00}us"));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"#   rules={size}: p99.9={At(fresh, 0.999):0.00}us max={At(fresh, 1):0.0}us; stored requests: p50={At(stored, 0.50):0.00}us p99={At(stored, 0.99):0.00}us batch mean={ToMicroseconds(batchMean):0.00}us; compile={compile.TotalMilliseconds:0}ms; allowed {100.0 * allowed / (3.0 * decisions):0}% of {decisions} decisions per pass"));
    }

    private static long[] Sample(CompiledPolicy policy, PolicyRequest[] requests, int decisions, long overhead, bool copy, ref int allowed)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var samples = new long[decisions];
        for (var i = 0; i < decisions; i++)
        {
            var request = requests[i & (requests.Length - 1)];
            if (copy)
            {
                request = new PolicyRequest(
                    SpiffeId.Parse(request.From.ToString()), // Parse copies the text into a new string
                    new HashSet<string>(request.FromSelectors.Select(s => new string(s)), StringComparer.Ordinal),
                    SpiffeId.Parse(request.To.ToString()),
                    request.Port);
            }

            var start = Stopwatch.GetTimestamp();
            var decision = policy.Decide(request);
            var end = Stopwatch.GetTimestamp();
            samples[i] = Math.Max(0, end - start - overhead);
            allowed += decision.Allowed ? 1 : 0;
        }

        Array.Sort(samples);
        return samples;
    }

    private static double At(long[] sorted, double q) => ToMicroseconds(sorted[(int)Math.Min(sorted.Length - 1, q * sorted.Length)]);

    private static long TimerOverhead()
    {
        var samples = new long[1_000_000];
        for (var i = 0; i < samples.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            samples[i] = Stopwatch.GetTimestamp() - start;
        }

        Array.Sort(samples);
        return samples[samples.Length / 2];
    }

    private static double ToMicroseconds(double ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary>
    /// A fleet of trust domains, namespaces and services: ~200 rules per trust domain (at least 2
    /// domains), 10 namespaces each, 20 services per namespace.
    /// </summary>
    private sealed class World(int size, Random random)
    {
        private readonly int _domains = Math.Clamp(size / 200, 2, 500);

        private string Domain(int d) => $"td{d}.acme.corp";

        private string Domain() => Domain(random.Next(_domains));

        private string Service(string domain) => $"spiffe://{domain}/ns/ns{random.Next(10)}/sa/svc{random.Next(20)}";

        private string Namespace(string domain) => $"spiffe://{domain}/ns/ns{random.Next(10)}";

        private static IdentityPattern.Exact Id(string text) => new IdentityPattern.Exact(SpiffeId.Parse(text));

        private static IdentityPattern Prefix(string text) =>
            IdentityPattern.TryParse(text + "/*", out var pattern, out var error) ? pattern : throw new FormatException(error);

        private static IdentityPattern.InTrustDomain InDomain(string domain) => new IdentityPattern.InTrustDomain(TrustDomain.Parse(domain));

        private int? Port() => random.Next(2) == 0 ? null : 8000 + random.Next(100);

        private string[] Selectors() => [$"unix:uid:{1000 + random.Next(50)}", $"unix:path:/usr/bin/svc{random.Next(20)}"];

        /// <summary>Rule <paramref name="i"/>: 40% exact to exact, 20% namespace prefix to exact, 10% trust domain to prefix, 10% exact with selectors to a domain, 20% denies.</summary>
        public PolicyRule Rule(int i)
        {
            var name = "r" + i.ToString(CultureInfo.InvariantCulture);
            return (i % 10) switch
            {
                <= 3 => new(name, PolicyAction.Allow, new FromMatch(Id(Service(Domain())), []), new ToMatch(Id(Service(Domain())), Port())),
                <= 5 => new(name, PolicyAction.Allow, new FromMatch(Prefix(Namespace(Domain())), []), new ToMatch(Id(Service(Domain())), 8443)),
                6 => new(name, PolicyAction.Allow, new FromMatch(InDomain(Domain()), []), new ToMatch(Prefix(Namespace(Domain())), null)),
                7 => new(name, PolicyAction.Allow, new FromMatch(Id(Service(Domain())), Selectors()), new ToMatch(InDomain(Domain()), Port())),
                8 => new(name, PolicyAction.Deny, new FromMatch(Prefix(Namespace(Domain())), []), new ToMatch(Id(Service(Domain())), null)),
                _ => new(name, PolicyAction.Deny, new FromMatch(InDomain(Domain()), ["unix:uid:0"]), new ToMatch(InDomain(Domain()), null)),
            };
        }

        /// <summary>A request the rule matches (other rules may match it too).</summary>
        public PolicyRequest Hit(PolicyRule rule) => new(
            Member(rule.From.Identity),
            new HashSet<string>([.. rule.From.Selectors, "unix:gid:100"], StringComparer.Ordinal),
            Member(rule.To.Identity),
            rule.To.Port ?? 8000 + random.Next(100));

        /// <summary>A service of some trust domain, a random port and a typical process's selectors.</summary>
        public PolicyRequest Random() => new(
            SpiffeId.Parse(Service(Domain())),
            new HashSet<string>(Selectors(), StringComparer.Ordinal),
            SpiffeId.Parse(Service(Domain())),
            8000 + random.Next(100));

        private SpiffeId Member(IdentityPattern pattern) => pattern switch
        {
            IdentityPattern.Exact exact => exact.Id,
            IdentityPattern.Prefix prefix => SpiffeId.Parse($"{prefix.TrustDomain.IdString}{prefix.PathPrefix}/sa/svc{random.Next(20)}"),
            IdentityPattern.InTrustDomain domain => SpiffeId.Parse(Service(domain.TrustDomain.Name)),
            _ => throw new ArgumentException("unknown pattern", nameof(pattern)),
        };
    }
}
