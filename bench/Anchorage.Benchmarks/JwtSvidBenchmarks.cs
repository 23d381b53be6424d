using Anchorage.Spiffe.Svids;
using BenchmarkDotNet.Attributes;

namespace Anchorage.Benchmarks;

/// <summary>
/// JWT-SVID validation (JWT-SVID §4) of ES256 tokens against a bundle of three P-256 keys.
/// Without kid the signer is the last key, so the validator checks three signatures (the worst case).
/// </summary>
[MemoryDiagnoser]
public class JwtSvidBenchmarks
{
    private Fixtures.Jwt _fixture = null!;

    [GlobalSetup]
    public void Setup() => _fixture = new Fixtures.Jwt();

    [Benchmark(Baseline = true)]
    public JwtSvid Validate_Es256_WithKid() =>
        _fixture.Validator.Validate(_fixture.TokenWithKid, Fixtures.Audience, _fixture.Bundles);

    [Benchmark]
    public JwtSvid Validate_Es256_WithoutKid_ThreeKeys() =>
        _fixture.Validator.Validate(_fixture.TokenWithoutKid, Fixtures.Audience, _fixture.Bundles);
}
