using Anchorage.Spiffe.Bundles;
using BenchmarkDotNet.Attributes;

namespace Anchorage.Benchmarks;

/// <summary>
/// SPIFFE bundle JSON parsing (SPIFFE_Trust_Domain_and_Bundle §4): base64 and DER of each x5c,
/// key loading, the x5c-versus-JWK key comparison. The parsed certificates are not disposed, as
/// with callers that drop a replaced bundle, so finalization is part of the cost.
/// </summary>
[MemoryDiagnoser]
public class SpiffeBundleBenchmarks
{
    private byte[] _small = null!;
    private byte[] _twenty = null!;

    [GlobalSetup]
    public void Setup()
    {
        _small = Fixtures.BundleJson.Small();
        _twenty = Fixtures.BundleJson.TwentyAuthorities();
        if (Parse_OneX509TwoJwt().JwtAuthorities.Length != 2 || Parse_TwentyX509().X509Authorities.Length != 20)
        {
            throw new InvalidOperationException("fixture bundles did not parse as expected");
        }
    }

    [Benchmark(Baseline = true)]
    public SpiffeBundle Parse_OneX509TwoJwt() => SpiffeBundle.Parse(Fixtures.BundleJson.TrustDomain, _small);

    [Benchmark]
    public SpiffeBundle Parse_TwentyX509() => SpiffeBundle.Parse(Fixtures.BundleJson.TrustDomain, _twenty);
}
