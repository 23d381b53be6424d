using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.Bundles;
using Anchorage.Testing.X509;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Benchmarks;

/// <summary>
/// The inputs shared by the BenchmarkDotNet classes and the ratio mode, so both measure the same
/// thing. Everything is P-256/SHA-256 (the SPIRE default), built in code by the test fixtures.
/// </summary>
internal static class Fixtures
{
    public const string TrustDomainName = "example.org";
    public const string Audience = "spiffe://example.org/backend";

    /// <summary>A root, an intermediate under it, one leaf under each; one bundle holding the root.</summary>
    internal sealed class X509
    {
        public X509()
        {
            Root = TestCa.CreateRoot(TrustDomainName);
            Intermediate = Root.CreateIntermediate();
            LeafUnderRoot = Root.IssueLeaf().Chain;
            LeafViaIntermediate = Intermediate.IssueLeaf().Chain;
            Bundles = BundleSet.Empty.With(Root.Bundle());
        }

        public TestCa Root { get; }

        public TestCa Intermediate { get; }

        /// <summary>[leaf], issued by the bundle's authority.</summary>
        public IReadOnlyList<X509Certificate2> LeafUnderRoot { get; }

        /// <summary>[leaf, intermediate]; the intermediate is signed by the bundle's authority.</summary>
        public IReadOnlyList<X509Certificate2> LeafViaIntermediate { get; }

        public BundleSet Bundles { get; }

        /// <summary>The verification time: the test CAs are built around <see cref="TestClock.Now"/>.</summary>
        public DateTimeOffset At => TestClock.Now;

        /// <summary>A verifier that has already verified both chains once (its caches are warm).</summary>
        public X509SvidVerifier WarmVerifier()
        {
            var verifier = new X509SvidVerifier();
            Check(verifier.Verify(LeafUnderRoot, Bundles, At), 1);
            Check(verifier.Verify(LeafViaIntermediate, Bundles, At), 2);
            return verifier;
        }

        private static void Check(X509SvidVerification result, int intermediatesAndAnchorAbove)
        {
            if (result.Path.Length != intermediatesAndAnchorAbove + 1 || result.Id.Path != "/workload")
            {
                throw new InvalidOperationException("fixture chain did not verify as expected");
            }
        }
    }

    /// <summary>Three ES256 keys in one JWT bundle; tokens signed by the third, with and without kid.</summary>
    internal sealed class Jwt
    {
        public Jwt()
        {
            Clock = new FakeTimeProvider(TestClock.Now);
            Keys = [ECDsa.Create(ECCurve.NamedCurves.nistP256), ECDsa.Create(ECCurve.NamedCurves.nistP256), ECDsa.Create(ECCurve.NamedCurves.nistP256)];
            var td = TrustDomain.Parse(TrustDomainName);
            Bundles = BundleSet.Empty.With(new JwtBundle(td, Keys.Select((k, i) => JwtAuthority.FromKey($"key-{i}", k))));
            Subject = SpiffeId.FromPath(td, "/workload");
            var signer = new JwtSigningKey("key-2", Keys[2]);
            TokenWithKid = JwtSvid.Mint(Subject, [Audience], TestClock.Now.AddMinutes(5), signer, Clock);
            TokenWithoutKid = MintWithoutKid(Keys[2]);
            Validator = new JwtSvidValidator(Clock);
            if (Validator.Validate(TokenWithKid, Audience, Bundles).KeyId != "key-2"
                || Validator.Validate(TokenWithoutKid, Audience, Bundles).KeyId is not null)
            {
                throw new InvalidOperationException("fixture tokens did not validate as expected");
            }
        }

        public FakeTimeProvider Clock { get; }

        public ECDsa[] Keys { get; }

        public BundleSet Bundles { get; }

        public SpiffeId Subject { get; }

        /// <summary>An ES256 token whose kid names the third key of the bundle.</summary>
        public string TokenWithKid { get; }

        /// <summary>An ES256 token without kid signed by the third key: the validator tries all three.</summary>
        public string TokenWithoutKid { get; }

        public JwtSvidValidator Validator { get; }

        /// <summary>JwtSvid.Mint always writes kid, so this token is put together by hand (JWT-SVID §2.2 allows no kid).</summary>
        private string MintWithoutKid(ECDsa key)
        {
            var iat = TestClock.Now.ToUnixTimeSeconds();
            var header = """{"alg":"ES256","typ":"JWT"}""";
            var payload = $$"""{"sub":"{{Subject}}","aud":"{{Audience}}","exp":{{iat + 300}},"iat":{{iat}}}""";
            var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
            var signature = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            return input + "." + Base64Url.EncodeToString(signature);
        }
    }

    /// <summary>SPIFFE bundle documents written by the test JWK writer (independent of the product's writer).</summary>
    internal static class BundleJson
    {
        public static TrustDomain TrustDomain { get; } = TrustDomain.Parse(TrustDomainName);

        /// <summary>One P-256 x509-svid authority, two P-256 jwt-svid keys, sequence and refresh hint.</summary>
        public static byte[] Small()
        {
            var document = JwkJson.Bundle(
                JwkJson.X509Key(TestAuthorities.Ca(TrustDomainName)),
                JwkJson.JwtKey("jwt-1", TestAuthorities.Key(Testing.Bundles.TestKeyKind.P256, 1)),
                JwkJson.JwtKey("jwt-2", TestAuthorities.Key(Testing.Bundles.TestKeyKind.P256, 2)));
            document["spiffe_sequence"] = 42;
            document["spiffe_refresh_hint"] = 300;
            return JwkJson.Utf8(document);
        }

        /// <summary>Twenty P-256 x509-svid authorities (a trust domain mid-rotation across many clusters).</summary>
        public static byte[] TwentyAuthorities()
        {
            var keys = Enumerable.Range(0, 20)
                .Select(slot => (System.Text.Json.Nodes.JsonNode?)JwkJson.X509Key(TestAuthorities.Ca(TrustDomainName, Testing.Bundles.TestKeyKind.P256, slot)))
                .ToArray();
            var document = JwkJson.Bundle(keys);
            document["spiffe_sequence"] = 42;
            return JwkJson.Utf8(document);
        }
    }
}
