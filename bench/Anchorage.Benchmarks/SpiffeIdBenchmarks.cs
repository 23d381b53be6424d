using Anchorage.Spiffe.Ids;
using BenchmarkDotNet.Attributes;

namespace Anchorage.Benchmarks;

/// <summary>SPIFFE ID parsing (SPIFFE-ID §2): the cost paid for every peer ID and every policy entry.</summary>
[MemoryDiagnoser]
public class SpiffeIdBenchmarks
{
    // 29 characters: the common shape.
    private const string Short = "spiffe://example.org/workload";

    // 230 characters: a long trust domain and a Kubernetes-style path with many segments.
    private const string Long =
        "spiffe://prod.us-east-1.payments-platform.internal.example-corporation.com"
        + "/ns/payments-settlement-processing/sa/settlement-batch-worker-v2"
        + "/cluster/eks-prod-us-east-1-blue/node-pool/compute-optimized-c6i/region/us-east-1";

    // Invalid at the first character after the prefix: rejected by the trust domain check.
    private const string InvalidEarly = "spiffe://Example.org/workload";

    // The long ID with one bad character in its last segment: the whole path is scanned first.
    private const string InvalidLate = Long + "/a b";

    [Benchmark(Baseline = true)]
    public SpiffeId Parse_Short() => SpiffeId.Parse(Short);

    [Benchmark]
    public SpiffeId Parse_Long() => SpiffeId.Parse(Long);

    [Benchmark]
    public bool TryParse_InvalidTrustDomain() => SpiffeId.TryParse(InvalidEarly, out _);

    [Benchmark]
    public bool TryParse_InvalidLastSegment() => SpiffeId.TryParse(InvalidLate, out _);
}
