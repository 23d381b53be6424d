using Anchorage.Spiffe.Svids;
using BenchmarkDotNet.Attributes;

namespace Anchorage.Benchmarks;

/// <summary>
/// X.509-SVID verification (X509-SVID §5) of P-256 chains against a one-root bundle. "Cached"
/// reuses one verifier whose caches already hold the intermediate and the root; "Uncached" pays
/// for a new verifier per call (parse the root and the intermediate, check every signature).
/// </summary>
[MemoryDiagnoser]
public class X509SvidBenchmarks
{
    private Fixtures.X509 _fixture = null!;
    private X509SvidVerifier _verifier = null!;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new Fixtures.X509();
        _verifier = _fixture.WarmVerifier();
    }

    /// <summary>Leaf issued by the bundle's root: leaf parse + one signature check.</summary>
    [Benchmark(Baseline = true)]
    public X509SvidVerification Verify_LeafUnderRoot() =>
        _verifier.Verify(_fixture.LeafUnderRoot, _fixture.Bundles, _fixture.At);

    /// <summary>Leaf + known intermediate, warm verifier: leaf parse + one signature check (the fast path).</summary>
    [Benchmark]
    public X509SvidVerification Verify_LeafViaIntermediate_Cached() =>
        _verifier.Verify(_fixture.LeafViaIntermediate, _fixture.Bundles, _fixture.At);

    /// <summary>Leaf + intermediate with a new verifier: parse three certificates, two signature checks.</summary>
    [Benchmark]
    public X509SvidVerification Verify_LeafViaIntermediate_Uncached() =>
        new X509SvidVerifier().Verify(_fixture.LeafViaIntermediate, _fixture.Bundles, _fixture.At);

    /// <summary>Leaf under the root with a new verifier: parse the root too, one signature check.</summary>
    [Benchmark]
    public X509SvidVerification Verify_LeafUnderRoot_Uncached() =>
        new X509SvidVerifier().Verify(_fixture.LeafUnderRoot, _fixture.Bundles, _fixture.At);
}
