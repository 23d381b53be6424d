using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Tests.Ca;

public class CaManagerRotationTests
{
    /// <summary>
    /// Three CA lifetimes (CA TTL 1 h) driven only by the rotation timer on a fake clock: at every
    /// check the published bundle verifies the server SVID, every X.509-SVID issued in the last
    /// SVID TTL that has not expired, and every JWT-SVID minted in the last JWT TTL. No gap.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public async Task TimerRotation_ThreeCaLifetimes_BundleAlwaysVerifiesServerSvidAndRecentSvids()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();
        var verifier = harness.Verifier;
        var validator = new JwtSvidValidator(harness.Clock);
        var csr = CaHarness.Csr();
        var x509Svids = new List<X509Certificate2[]>();
        var jwtSvids = new List<IssuedJwtSvid>();
        var x509Active = new List<string> { ca.ActiveX509Authority!.Id };
        var jwtActive = new List<string> { ca.ActiveJwtAuthority!.Id };
        var serverSerials = new HashSet<string>();
        var maxX509InBundle = 0;
        var checks = 0;

        var end = harness.Clock.GetUtcNow() + TimeSpan.FromHours(3) + TimeSpan.FromMinutes(5);
        for (var step = 1; harness.Clock.GetUtcNow() < end; step++)
        {
            await harness.TickAsync(ca);
            var now = harness.Clock.GetUtcNow();
            if (step % 6 == 0)
            {
                x509Svids.Add(CaHarness.Certificates(await ca.SignX509SvidAsync(CaFixture.Workload, csr, [], null, default)));
                jwtSvids.Add(await ca.MintJwtSvidAsync(CaFixture.Workload, ["db"], null, default));
            }

            var bundle = (await ca.GetBundleAsync(default)).Bundle;
            var x509Bundle = bundle.ToX509Bundle();
            var jwtBundle = bundle.ToJwtBundle();
            maxX509InBundle = Math.Max(maxX509InBundle, x509Bundle.Authorities.Length);

            var server = ca.ServerSvid.GetX509Svid();
            serverSerials.Add(server.Leaf.SerialNumber);
            verifier.Verify(server.Certificates, x509Bundle);
            foreach (var chain in x509Svids.Where(c => c[0].NotAfter.ToUniversalTime() > now.UtcDateTime))
            {
                verifier.Verify(chain, x509Bundle);
                checks++;
            }

            foreach (var jwt in jwtSvids.Where(j => j.Expiry > now))
            {
                validator.Validate(jwt.Token, "db", jwtBundle);
                checks++;
            }

            if (x509Active[^1] != ca.ActiveX509Authority!.Id)
            {
                x509Active.Add(ca.ActiveX509Authority.Id);
            }

            if (jwtActive[^1] != ca.ActiveJwtAuthority!.Id)
            {
                jwtActive.Add(ca.ActiveJwtAuthority.Id);
            }
        }

        // The first authority is activated at 0; its successors at 50 min, 1 h 20, 1 h 50, 2 h 20, 2 h 50 (prepared
        // at half life, activated at life / 6 before the end), so six in 3 h 05.
        Assert.Equal(6, x509Active.Distinct().Count());
        Assert.Equal(6, jwtActive.Distinct().Count());
        Assert.Equal(x509Active.Count, x509Active.Distinct().Count()); // never back to an earlier one
        Assert.InRange(maxX509InBundle, 2, 3); // active + prepared or old, never the expired ones
        Assert.True(serverSerials.Count >= 3 * 60 / 5, $"server svid re-issued only {serverSerials.Count} times"); // half of 10 min
        Assert.True(checks > 1000, $"only {checks} svid checks ran");
        var journal = await ca.ListAuthoritiesAsync(AuthorityKind.X509, default);
        Assert.InRange(journal.Count, 2, 3); // expired ones were retired from the journal
        var keys = Directory.GetFiles(harness.KeyDirectory("server-a"), "x509-*.pem");
        Assert.Equal(journal.Select(a => $"x509-{a.Id}.pem").Order(), keys.Select(Path.GetFileName).Order()); // and their keys deleted
    }
}
