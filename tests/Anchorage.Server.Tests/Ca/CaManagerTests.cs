using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Server.Tests.Ca;

public class CaManagerTests
{
    private static readonly SpiffeId Workload = CaFixture.Workload;

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public async Task StartAsync_Fresh_OneActiveAuthorityOfEachKindInBundleSequenceOneAndOpenSslCsrSvidVerifies()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();

        var x509 = await ca.ListAuthoritiesAsync(AuthorityKind.X509, default);
        var jwt = await ca.ListAuthoritiesAsync(AuthorityKind.Jwt, default);
        var bundle = await ca.GetBundleAsync(default);

        var x509Authority = Assert.Single(x509);
        var jwtAuthority = Assert.Single(jwt);
        Assert.Equal((AuthorityState.Active, "server-a", false), (x509Authority.State, x509Authority.ServerId, x509Authority.Tainted));
        Assert.Equal((AuthorityState.Active, "server-a", false), (jwtAuthority.State, jwtAuthority.ServerId, jwtAuthority.Tainted));
        Assert.Equal(1UL, bundle.Bundle.SequenceNumber);
        Assert.Equal(TimeSpan.FromMinutes(5), bundle.Bundle.RefreshHint);
        Assert.Equal(x509Authority.CertificateDer, Assert.Single(bundle.Bundle.X509Authorities).RawData);
        var key = Assert.Single(bundle.Bundle.JwtAuthorities);
        Assert.Equal(jwtAuthority.Id, key.KeyId);
        Assert.Equal(jwtAuthority.PublicKey, key.SubjectPublicKeyInfo.ToArray());

        // An independent producer's CSR: openssl.
        using var openssl = new OpenSsl();
        openssl.Run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem");
        openssl.Run("req", "-new", "-key", "k.pem", "-subj", "/CN=ignored", "-outform", "DER", "-out", "r.der");
        var svid = await ca.SignX509SvidAsync(Workload, openssl.ReadBytes("r.der"), ["web.example.org"], null, default);

        Assert.Single(svid.Chain); // self-signed: the CA is the bundle root, the chain is the leaf alone
        Assert.Equal(x509Authority.Id, svid.AuthorityId);
        Assert.Equal(harness.Clock.GetUtcNow() + TimeSpan.FromMinutes(10), svid.NotAfter);
        var verified = harness.Verifier.Verify(CaHarness.Certificates(svid), CaHarness.X509(bundle));
        Assert.Equal(Workload, verified.Id);

        // openssl agrees: the published bundle as the only CA file.
        openssl.WriteFile("bundle.pem", CaHarness.X509(bundle).ToPem());
        openssl.WriteFile("leaf.pem", CaFixture.Pem(svid.Chain[0]));
        var ok = openssl.Run("verify", "-attime", CaFixture.Epoch(harness.Clock.GetUtcNow()), "-CAfile", "bundle.pem", "leaf.pem");
        Assert.Contains("leaf.pem: OK", ok.StandardOutput);
    }

    [Fact]
    public async Task StartAsync_Fresh_ServerSvidIsAnchorageServerSignedByActiveAuthorityAndJwtValidates()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();
        var bundle = await ca.GetBundleAsync(default);

        var server = ca.ServerSvid.GetX509Svid();
        var verified = harness.Verifier.Verify(server.Certificates, CaHarness.X509(bundle));
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/anchorage/server"), verified.Id);
        Assert.Equal(ca.ActiveX509Authority!.CertificateDer, verified.Path[^1].RawData);

        var jwt = await ca.MintJwtSvidAsync(Workload, ["db"], null, default);
        var validated = new JwtSvidValidator(harness.Clock).Validate(jwt.Token, "db", bundle.Bundle.ToJwtBundle());
        Assert.Equal((Workload, ca.ActiveJwtAuthority!.Id), (validated.Id, validated.KeyId));
        Assert.Equal(harness.Clock.GetUtcNow() + TimeSpan.FromMinutes(5), jwt.Expiry);
        Assert.Equal(jwt.Expiry, validated.Expiry);
    }

    [Fact]
    public async Task SignX509SvidAsync_TtlAboveCap_CappedAtCaLifetimeOverSix()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();

        var capped = await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], TimeSpan.FromHours(5), default);
        var shorter = await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], TimeSpan.FromMinutes(2), default);

        // CA lifetime 1 h + 10 s backdate, / 6 = 10 min 1.67 s, whole seconds.
        Assert.Equal(harness.Clock.GetUtcNow() + TimeSpan.FromSeconds(601), capped.NotAfter);
        Assert.Equal(harness.Clock.GetUtcNow() + TimeSpan.FromMinutes(2), shorter.NotAfter);
    }

    [Fact]
    public async Task SignX509SvidAsync_IdOfAnotherTrustDomain_ThrowsArgumentException()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() =>
            ca.SignX509SvidAsync(SpiffeId.Parse("spiffe://other.org/web"), CaHarness.Csr(), [], null, default));
        var jwt = await Assert.ThrowsAsync<ArgumentException>(() => ca.MintJwtSvidAsync(SpiffeId.Parse("spiffe://other.org/web"), ["db"], null, default));

        Assert.StartsWith("spiffe id \"spiffe://other.org/web\" is not in trust domain \"example.org\" of this ca", ex.Message);
        Assert.StartsWith("spiffe id \"spiffe://other.org/web\" is not in trust domain \"example.org\" of this ca", jwt.Message);
        Assert.NotNull(await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default)); // positive control
    }

    [Fact]
    public async Task Lifecycle_PrepareActivateTaintRevoke_BundleSequenceFollowsEachStep()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();
        var sequences = new List<ulong>();
        ca.BundleChanged += (_, b) => sequences.Add(b.Bundle.SequenceNumber!.Value);
        var authoritiesChanged = 0;
        ca.AuthoritiesChanged += (_, _) => authoritiesChanged++;
        var a1 = ca.ActiveX509Authority!;
        var svidA1 = await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);

        // A quiet minute: nothing due, nothing published.
        for (var i = 0; i < 6; i++)
        {
            await harness.TickAsync(ca);
        }

        Assert.Equal(1UL, await Sequence(ca));

        // prepare: in the bundle (sequence 2) before it signs.
        var a2 = await ca.PrepareAsync(AuthorityKind.X509, default);
        Assert.Equal(AuthorityState.Prepared, a2.State);
        Assert.Equal(2UL, await Sequence(ca));
        Assert.Equal([a1.CertificateDer, a2.CertificateDer], (await ca.GetBundleAsync(default)).Bundle.X509Authorities.Select(c => c.RawData));
        Assert.Equal(a1.Id, (await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default)).AuthorityId);
        var again = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.PrepareAsync(AuthorityKind.X509, default));
        Assert.Equal($"x509 authority \"{a2.Id}\" is already prepared; activate it before preparing another", again.Message);

        // The active one can be neither tainted nor revoked.
        var taintActive = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.TaintAsync(AuthorityKind.X509, a1.Id, default));
        Assert.Equal($"cannot taint the active x509 authority \"{a1.Id}\"; activate another first", taintActive.Message);
        var revokeActive = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.RevokeAsync(AuthorityKind.X509, a1.Id, default));
        Assert.Equal($"cannot revoke the active x509 authority \"{a1.Id}\"; activate another first", revokeActive.Message);
        var taintPrepared = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.TaintAsync(AuthorityKind.X509, a2.Id, default));
        Assert.Equal($"cannot taint the prepared x509 authority \"{a2.Id}\"; it has signed nothing, revoke it instead", taintPrepared.Message);

        // activate: swaps; the bundle already held it (sequence unchanged); the server SVID follows.
        var activated = await ca.ActivateAsync(AuthorityKind.X509, null, default);
        Assert.Equal((a2.Id, AuthorityState.Active), (activated.Id, activated.State));
        Assert.Equal(AuthorityState.Old, (await ca.ListAuthoritiesAsync(AuthorityKind.X509, default)).Single(a => a.Id == a1.Id).State);
        Assert.Equal(2UL, await Sequence(ca));
        var svidA2 = await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);
        Assert.Equal(a2.Id, svidA2.AuthorityId);
        var bundle2 = CaHarness.X509(await ca.GetBundleAsync(default));
        Assert.Equal(a2.CertificateDer, harness.Verifier.Verify(ca.ServerSvid.GetX509Svid().Certificates, bundle2).Path[^1].RawData);
        harness.Verifier.Verify(CaHarness.Certificates(svidA1), bundle2); // A1's SVIDs still verify
        var nothingPrepared = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.ActivateAsync(AuthorityKind.X509, null, default));
        Assert.Equal("no prepared x509 authority to activate; prepare one first", nothingPrepared.Message);
        var activateOld = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.ActivateAsync(AuthorityKind.X509, a1.Id, default));
        Assert.Equal($"x509 authority \"{a1.Id}\" is old; only a prepared authority can be activated", activateOld.Message);

        // revoke before taint is refused; taint marks (the bundle does not change).
        var untainted = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.RevokeAsync(AuthorityKind.X509, a1.Id, default));
        Assert.Equal($"x509 authority \"{a1.Id}\" is not tainted; taint it before revoking it", untainted.Message);
        var changedBefore = authoritiesChanged;
        var tainted = await ca.TaintAsync(AuthorityKind.X509, null, default);
        Assert.Equal((a1.Id, true), (tainted.Id, tainted.Tainted));
        Assert.Equal(a1.Id, Assert.Single(await ca.ListTaintedAsync(default)).Id);
        Assert.Equal(2UL, await Sequence(ca));
        Assert.True(authoritiesChanged > changedBefore);
        var twice = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.TaintAsync(AuthorityKind.X509, a1.Id, default));
        Assert.Equal($"x509 authority \"{a1.Id}\" is already tainted", twice.Message);

        // revoke: out of the journal, key deleted, out of the bundle (sequence 3); its SVIDs stop verifying.
        var revoked = await ca.RevokeAsync(AuthorityKind.X509, null, default);
        Assert.Equal(a1.Id, revoked.Id);
        Assert.Equal(3UL, await Sequence(ca));
        var bundle3 = CaHarness.X509(await ca.GetBundleAsync(default));
        Assert.Equal(a2.CertificateDer, Assert.Single(bundle3.Authorities).RawData);
        Assert.DoesNotContain(await ca.ListAuthoritiesAsync(AuthorityKind.X509, default), a => a.Id == a1.Id);
        Assert.False(File.Exists(Path.Combine(harness.KeyDirectory("server-a"), $"x509-{a1.Id}.pem")));
        Assert.True(File.Exists(Path.Combine(harness.KeyDirectory("server-a"), $"x509-{a2.Id}.pem")));
        Assert.Throws<SvidValidationException>(() => harness.Verifier.Verify(CaHarness.Certificates(svidA1), bundle3));
        harness.Verifier.Verify(CaHarness.Certificates(svidA2), bundle3); // positive control
        Assert.Empty(await ca.ListTaintedAsync(default));
        var gone = await Assert.ThrowsAsync<DataStoreNotFoundException>(() => ca.RevokeAsync(AuthorityKind.X509, a1.Id, default));
        Assert.Equal($"x509 authority \"{a1.Id}\" not found", gone.Message);
        var noTainted = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.RevokeAsync(AuthorityKind.X509, null, default));
        Assert.Equal("no tainted x509 authority to revoke; taint one first", noTainted.Message);
        var noOld = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.TaintAsync(AuthorityKind.X509, null, default));
        Assert.Equal("no old x509 authority to taint; activate another first", noOld.Message);

        // A prepared authority has signed nothing: it may be revoked without a taint (4, then 5).
        var a3 = await ca.PrepareAsync(AuthorityKind.X509, default);
        Assert.Equal(4UL, await Sequence(ca));
        await ca.RevokeAsync(AuthorityKind.X509, a3.Id, default);
        Assert.Equal(5UL, await Sequence(ca));

        // JWT: prepare (6), activate, taint, revoke (7); tokens of the revoked key stop validating.
        var j1 = ca.ActiveJwtAuthority!;
        var tokenJ1 = await ca.MintJwtSvidAsync(Workload, ["db"], null, default);
        var j2 = await ca.PrepareAsync(AuthorityKind.Jwt, default);
        Assert.Equal(6UL, await Sequence(ca));
        Assert.Equal([j1.Id, j2.Id], (await ca.GetBundleAsync(default)).Bundle.JwtAuthorities.Select(k => k.KeyId));
        await ca.ActivateAsync(AuthorityKind.Jwt, j2.Id, default);
        var tokenJ2 = await ca.MintJwtSvidAsync(Workload, ["db"], null, default);
        var taintJwtActive = await Assert.ThrowsAsync<InvalidOperationException>(() => ca.TaintAsync(AuthorityKind.Jwt, j2.Id, default));
        Assert.Equal($"cannot taint the active jwt authority \"{j2.Id}\"; activate another first", taintJwtActive.Message);
        await ca.TaintAsync(AuthorityKind.Jwt, j1.Id, default);
        await ca.RevokeAsync(AuthorityKind.Jwt, j1.Id, default);
        Assert.Equal(7UL, await Sequence(ca));
        var jwtBundle = (await ca.GetBundleAsync(default)).Bundle.ToJwtBundle();
        var validator = new JwtSvidValidator(harness.Clock);
        Assert.Equal(j2.Id, validator.Validate(tokenJ2.Token, "db", jwtBundle).KeyId);
        Assert.Throws<SvidValidationException>(() => validator.Validate(tokenJ1.Token, "db", jwtBundle));

        // Every published sequence was announced once, in order; no log line carries key material.
        Assert.Equal([2UL, 3UL, 4UL, 5UL, 6UL, 7UL], sequences);
        AssertNoKeyMaterialLogged(harness);
    }

    [Fact]
    public async Task StartAsync_Restart_SameActiveAuthoritiesNoNewOneBundleUnchanged()
    {
        await using var harness = new CaHarness();
        var first = await harness.StartAsync();
        var (x509, jwt) = (first.ActiveX509Authority!.Id, first.ActiveJwtAuthority!.Id);
        var svid = await first.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);
        var before = await first.GetBundleAsync(default);
        await harness.StopAsync(first);

        harness.Clock.Advance(TimeSpan.FromMinutes(3));
        var second = await harness.StartAsync();
        var after = await second.GetBundleAsync(default);

        Assert.Equal((x509, jwt), (second.ActiveX509Authority!.Id, second.ActiveJwtAuthority!.Id));
        Assert.Single(await second.ListAuthoritiesAsync(AuthorityKind.X509, default));
        Assert.Single(await second.ListAuthoritiesAsync(AuthorityKind.Jwt, default));
        Assert.Equal(1UL, after.Bundle.SequenceNumber);
        Assert.Equal(before.UpdatedAt, after.UpdatedAt);
        Assert.Equal(x509, (await second.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default)).AuthorityId);
        harness.Verifier.Verify(CaHarness.Certificates(svid), CaHarness.X509(after));
    }

    [Fact]
    public async Task StartAsync_PreparedButNeverActivated_PublishesThenActivatesThatAuthority()
    {
        // A SIGKILL right after the journal write of a prepared authority: key on disk, journal says prepared, no bundle.
        await using var harness = new CaHarness();
        string preparedId;
        await using (var store = await harness.OpenStoreAsync())
        {
            using var authority = await new X509AuthorityFactory(CaFixture.Td, harness.Clock)
                .CreateAsync(harness.Keys("server-a"), KeyType.EcP256, TimeSpan.FromHours(1));
            await store.CreateAuthorityAsync(authority.ToRecord("server-a", AuthorityState.Prepared, harness.Clock.GetUtcNow()), default);
            preparedId = authority.Id;
        }

        var ca = await harness.StartAsync();

        Assert.Equal(preparedId, ca.ActiveX509Authority!.Id);
        Assert.Single(await ca.ListAuthoritiesAsync(AuthorityKind.X509, default));
        var bundle = await ca.GetBundleAsync(default);
        Assert.Equal(1UL, bundle.Bundle.SequenceNumber);
        harness.Verifier.Verify(CaHarness.Certificates(await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default)), CaHarness.X509(bundle));
    }

    [Fact]
    public async Task StartAsync_ActiveKeyLost_LogsErrorKeepsItAsOldInBundleAndActivatesANewOne()
    {
        await using var harness = new CaHarness();
        var first = await harness.StartAsync();
        var lost = first.ActiveX509Authority!;
        var jwt = first.ActiveJwtAuthority!;
        var svid = await first.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);
        await harness.StopAsync(first);
        File.Delete(Path.Combine(harness.KeyDirectory("server-a"), $"x509-{lost.Id}.pem"));

        var second = await harness.StartAsync();

        Assert.Contains(harness.Log.Events, l => l.EventId == 3010 && l.Message.Contains(lost.Id, StringComparison.Ordinal));
        var authorities = await second.ListAuthoritiesAsync(AuthorityKind.X509, default);
        Assert.Equal(AuthorityState.Old, authorities.Single(a => a.Id == lost.Id).State);
        Assert.NotEqual(lost.Id, second.ActiveX509Authority!.Id);
        var bundle = await second.GetBundleAsync(default);
        Assert.Equal(2UL, bundle.Bundle.SequenceNumber);
        harness.Verifier.Verify(CaHarness.Certificates(svid), CaHarness.X509(bundle)); // issued SVIDs keep verifying
        var fresh = await second.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);
        Assert.Equal(second.ActiveX509Authority.Id, fresh.AuthorityId);
        harness.Verifier.Verify(CaHarness.Certificates(fresh), CaHarness.X509(bundle));
        Assert.Equal(jwt.Id, second.ActiveJwtAuthority!.Id); // the JWT key was intact: that authority stays active
    }

    [Fact]
    public async Task StartAsync_CorruptActiveKey_LogsErrorAndActivatesANewOne()
    {
        await using var harness = new CaHarness();
        var first = await harness.StartAsync();
        var jwt = first.ActiveJwtAuthority!;
        await harness.StopAsync(first);
        File.WriteAllText(Path.Combine(harness.KeyDirectory("server-a"), $"jwt-{jwt.Id}.pem"), "not a key");

        var second = await harness.StartAsync();

        Assert.Contains(harness.Log.Events, l => l.EventId == 3011 && l.Message.Contains(jwt.Id, StringComparison.Ordinal));
        Assert.NotEqual(jwt.Id, second.ActiveJwtAuthority!.Id);
        Assert.Equal(2, (await second.GetBundleAsync(default)).Bundle.JwtAuthorities.Length);
    }

    [Fact]
    public async Task HighAvailability_TwoServersOneDatastore_BundleHoldsBothAndEachSvidVerifies()
    {
        await using var harness = new CaHarness();
        var a = await harness.StartAsync(CaHarness.Options("server-a"));
        var seenByA = new List<ulong>();
        a.BundleChanged += (_, bundle) => seenByA.Add(bundle.Bundle.SequenceNumber!.Value);
        Assert.Equal(1UL, await Sequence(a));

        var b = await harness.StartAsync(CaHarness.Options("server-b"));
        await harness.TickAsync(a, b);

        var bundle = await a.GetBundleAsync(default);
        Assert.Equal(2UL, bundle.Bundle.SequenceNumber);
        Assert.Equal([2UL], seenByA); // A learned of B's authorities from the journal on its next check
        Assert.NotEqual(a.ActiveX509Authority!.Id, b.ActiveX509Authority!.Id);
        Assert.Equal(
            new[] { a.ActiveX509Authority.CertificateDer!, b.ActiveX509Authority.CertificateDer! }.Select(Convert.ToHexString).Order(),
            bundle.Bundle.X509Authorities.Select(c => Convert.ToHexString(c.RawData)).Order());
        Assert.Equal(new[] { a.ActiveJwtAuthority!.Id, b.ActiveJwtAuthority!.Id }.Order(), bundle.Bundle.JwtAuthorities.Select(k => k.KeyId).Order());
        var fromA = await a.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);
        var fromB = await b.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);
        Assert.Equal(a.ActiveX509Authority.Id, harness.Verifier.Verify(CaHarness.Certificates(fromA), CaHarness.X509(bundle)).Path[^1].Extensions
            .OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!.ToLowerInvariant());
        Assert.Equal(b.ActiveX509Authority.Id, harness.Verifier.Verify(CaHarness.Certificates(fromB), CaHarness.X509(bundle)).Path[^1].Extensions
            .OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!.ToLowerInvariant());
        var validator = new JwtSvidValidator(harness.Clock);
        validator.Validate((await a.MintJwtSvidAsync(Workload, ["db"], null, default)).Token, "db", bundle.Bundle.ToJwtBundle());
        validator.Validate((await b.MintJwtSvidAsync(Workload, ["db"], null, default)).Token, "db", bundle.Bundle.ToJwtBundle());

        // A holds no key of B's: it cannot activate B's prepared authority.
        var prepared = await b.PrepareAsync(AuthorityKind.X509, default);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => a.ActivateAsync(AuthorityKind.X509, prepared.Id, default));
        Assert.Equal($"x509 authority \"{prepared.Id}\" belongs to server \"server-b\"; activate it on that server", ex.Message);
        Assert.Equal(AuthorityState.Active, (await b.ActivateAsync(AuthorityKind.X509, prepared.Id, default)).State); // positive control
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public async Task UpstreamMode_OpenSslRoot_BundleHoldsOnlyTheRootAndChainVerifiesToIt()
    {
        using var openssl = new OpenSsl();
        var root = new OpenSslCa(openssl).CreateRoot("upstream-root");
        var clock = CaFixture.Clock();
        clock.Advance(TimeSpan.FromSeconds(1)); // openssl stamped the root with the wall clock; stay after it
        using var upstream = UpstreamAuthority.Load(openssl.PathOf("upstream-root.pem"), openssl.PathOf("upstream-root.key"), openssl.PathOf("upstream-root.pem"), clock);
        await using var harness = new CaHarness(clock);
        var ca = await harness.StartAsync(CaHarness.Options() with { UpstreamAuthority = upstream });

        var bundle = await ca.GetBundleAsync(default);
        var svid = await ca.SignX509SvidAsync(Workload, CaHarness.Csr(), [], null, default);

        Assert.Equal(root.RawData, Assert.Single(bundle.Bundle.X509Authorities).RawData);
        Assert.Equal(2, svid.Chain.Length); // the leaf, then this server's CA (the upstream root is the bundle's)
        Assert.Equal(ca.ActiveX509Authority!.CertificateDer, svid.Chain[1]);
        var path = harness.Verifier.Verify(CaHarness.Certificates(svid), CaHarness.X509(bundle)).Path;
        Assert.Equal(root.RawData, path[^1].RawData);
        harness.Verifier.Verify(ca.ServerSvid.GetX509Svid().Certificates, CaHarness.X509(bundle));
        var leafOnly = Assert.Throws<SvidValidationException>(() => harness.Verifier.Verify([CaHarness.Certificates(svid)[0]], CaHarness.X509(bundle)));
        Assert.NotEmpty(leafOnly.Message);

        openssl.WriteFile("bundle.pem", CaHarness.X509(bundle).ToPem());
        openssl.WriteFile("leaf.pem", CaFixture.Pem(svid.Chain[0]));
        openssl.WriteFile("chain.pem", CaFixture.Pem(svid.Chain[1]));
        var at = CaFixture.Epoch(clock.GetUtcNow());
        var ok = openssl.Run("verify", "-attime", at, "-CAfile", "bundle.pem", "-untrusted", "chain.pem", "leaf.pem");
        Assert.Contains("leaf.pem: OK", ok.StandardOutput);
        var withoutChain = openssl.TryRun("verify", "-attime", at, "-CAfile", "bundle.pem", "leaf.pem");
        Assert.NotEqual(0, withoutChain.ExitCode); // the CA certificate is not a bundle root: the chain is needed
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_ThrowsArgumentException()
    {
        await using var harness = new CaHarness();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => harness.StartAsync(CaHarness.Options() with { CaTtl = TimeSpan.Zero }));
        var server = await Assert.ThrowsAsync<ArgumentException>(() => harness.StartAsync(CaHarness.Options(string.Empty)));

        Assert.StartsWith("ca ttl must be positive", ex.Message);
        Assert.StartsWith("ca server id is empty", server.Message);
        Assert.NotNull(await harness.StartAsync(CaHarness.Options())); // positive control
    }

    private static async Task<ulong> Sequence(CaManager ca) => (await ca.GetBundleAsync(default)).Bundle.SequenceNumber!.Value;

    private static void AssertNoKeyMaterialLogged(CaHarness harness)
    {
        var keyFiles = Directory.GetFiles(harness.KeyDirectory("server-a"), "*.pem");
        Assert.NotEmpty(keyFiles);
        var lines = harness.Log.Events.Select(l => l.Message).ToList();
        Assert.NotEmpty(lines);
        foreach (var file in keyFiles)
        {
            var body = string.Concat(File.ReadAllLines(file).Where(l => !l.StartsWith("-----", StringComparison.Ordinal)));
            for (var i = 0; i + 16 <= body.Length; i += 16)
            {
                var chunk = body.Substring(i, 16);
                Assert.DoesNotContain(lines, l => l.Contains(chunk, StringComparison.Ordinal));
            }
        }

        Assert.DoesNotContain(lines, l => l.Contains("PRIVATE KEY", StringComparison.Ordinal));
    }
}
