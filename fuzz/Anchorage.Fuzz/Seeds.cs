using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Fuzz;

/// <summary>
/// The part of the seed corpus made in code: SVIDs that chain to the fixed root (so the fuzzer
/// starts inside the verifier, not at its first check), the tests' <see cref="TestCa"/> defect
/// variants, minted JWT-SVIDs, emitted bundles, policy/config documents and audit lines.
/// fuzz/make-seeds adds the openssl-made files (CSRs, keys in every encoding, an openssl-issued chain).
/// </summary>
internal static class Seeds
{
    public static void Write(string dir)
    {
        using var rootKey = Fixtures.RootKey();
        using var root = Fixtures.Root.CopyWithPrivateKey(rootKey);

        // x509-svid and pem-der: a leaf straight under the root, one under an intermediate.
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leaf = Issue(root, leafKey, "CN=leaf", ca: false, "spiffe://fuzz.example/workload");
        using var midKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var mid = Issue(root, midKey, "CN=intermediate", ca: true, "spiffe://fuzz.example").CopyWithPrivateKey(midKey);
        var deepLeaf = Issue(mid, leafKey, "CN=deep leaf", ca: false, "spiffe://fuzz.example/deep/workload");
        var keyPem = PemEncoding.WriteString("PRIVATE KEY", leafKey.ExportPkcs8PrivateKey()) + "\n";
        Save(dir, "x509-svid", "leaf.pem", Pem(leaf));
        Save(dir, "x509-svid", "chain.pem", Pem(deepLeaf, mid));
        Save(dir, "x509-svid", "chain.der", [.. deepLeaf.RawData, .. mid.RawData]);
        Save(dir, "x509-svid", "combined.pem", Pem(leaf) + keyPem);
        Save(dir, "pem-der", "leaf.der", leaf.RawData);
        Save(dir, "pem-der", "combined.pem", Pem(deepLeaf, mid) + keyPem);
        Save(dir, "pem-der", "key.der", leafKey.ExportPkcs8PrivateKey());

        // The tests' fixtures: a valid SVID and the defects the verifier's tests use (these chain to
        // their own root, so they exercise the rules checked before the path is built).
        var ca = TestCa.CreateRoot("fuzz.example");
        var mid2 = ca.CreateIntermediate();
        var variants = new (string Name, TestSvid Svid)[]
        {
            ("testca-valid", ca.IssueLeaf()),
            ("testca-intermediate", mid2.IssueLeaf(new TestLeafOptions { Key = TestKeyKind.EcP384 })),
            ("testca-rsa", ca.IssueLeaf(new TestLeafOptions { Key = TestKeyKind.Rsa2048 })),
            ("testca-leaf-is-ca", ca.IssueLeaf(new TestLeafOptions { IsCa = true })),
            ("testca-no-key-usage", ca.IssueLeaf(new TestLeafOptions { OmitKeyUsage = true })),
            ("testca-critical-unknown", ca.IssueLeaf(new TestLeafOptions { UnknownCriticalExtension = true })),
            ("testca-two-uris", ca.IssueLeaf(new TestLeafOptions { UriSans = ["spiffe://fuzz.example/a", "spiffe://fuzz.example/b"] })),
            ("testca-dns", ca.IssueLeaf(new TestLeafOptions { DnsNames = ["fuzz.example"] })),
            ("testca-expired", ca.IssueLeaf(new TestLeafOptions { NotBefore = Fixtures.Now.AddDays(-10), NotAfter = Fixtures.Now.AddDays(-1) })),
        };
        foreach (var (name, svid) in variants)
        {
            Save(dir, "x509-svid", name + ".pem", svid.ChainPem);
            Save(dir, "x509-svid", name + ".der", svid.ChainDer);
        }

        Save(dir, "x509-svid", "testca-rsa-combined.pem", variants[2].Svid.ChainPem + variants[2].Svid.KeyPem);
        Save(dir, "pem-der", "testca-rsa-key.pem", variants[2].Svid.KeyPem);

        // jwt-svid: minted with the fixed key at the fixed instant.
        var clock = new FakeTimeProvider(Fixtures.Now);
        var signing = new JwtSigningKey(Fixtures.JwtKeyId, rootKey);
        var subject = SpiffeId.Parse("spiffe://fuzz.example/workload");
        Save(dir, "jwt-svid", "valid.jwt", JwtSvid.Mint(subject, [Fixtures.Audience], Fixtures.Now.AddHours(1), signing, clock));
        Save(dir, "jwt-svid", "two-audiences.jwt", JwtSvid.Mint(subject, [Fixtures.Audience, "other"], Fixtures.Now.AddMinutes(5), signing, clock));
        Save(dir, "jwt-svid", "claims.jwt", JwtSvid.Mint(subject, [Fixtures.Audience], Fixtures.Now.AddHours(1), signing, clock,
            new Dictionary<string, object?> { ["tenant"] = "a", ["n"] = 3, ["ok"] = true, ["list"] = new[] { "x", "y" } }));
        Save(dir, "jwt-svid", "wrong-audience.jwt", JwtSvid.Mint(subject, ["someone-else"], Fixtures.Now.AddHours(1), signing, clock));
        using var rsa = RSA.Create(2048);
        Save(dir, "jwt-svid", "rs256-unknown-kid.jwt", JwtSvid.Mint(subject, [Fixtures.Audience], Fixtures.Now.AddHours(1), new JwtSigningKey("rsa", rsa, "RS256"), clock));

        // bundle-json: emitted by the product, with and without the optional members.
        var jwtAuthority = JwtAuthority.FromKey(Fixtures.JwtKeyId, rootKey);
        Save(dir, "bundle-json", "full.json", new SpiffeBundle(Fixtures.TrustDomain, [Fixtures.Root], [jwtAuthority, JwtAuthority.FromKey("rsa", rsa)], 7, TimeSpan.FromMinutes(5)).ToUtf8Json());
        Save(dir, "bundle-json", "x509-only.json", new SpiffeBundle(Fixtures.TrustDomain, [Fixtures.Root, ca.Certificate], []).ToUtf8Json());
        Save(dir, "bundle-json", "empty.json", """{"keys":[]}""");
        Save(dir, "bundle-json", "root.pem", Pem(Fixtures.Root));

        // spiffe-id
        foreach (var (name, text) in new[]
        {
            ("id", "spiffe://fuzz.example/ns/default/sa/web"), ("td", "spiffe://fuzz.example"), ("chars", "spiffe://a-b_c.9/A.b-c_D/x"),
            ("bad-dot", "spiffe://fuzz.example/a/../b"), ("bad-port", "spiffe://fuzz.example:443/a"), ("bad-pct", "spiffe://fuzz.example/%41"),
        })
        {
            Save(dir, "spiffe-id", name + ".txt", text);
        }

        // policy: the document shapes of docs/policy.md and the policy tests.
        Save(dir, "policy", "policy.yaml", """
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: web-to-payments
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web/*", selectors: ["unix:path:/usr/bin/web"] }
                  to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
                - name: no-legacy
                  action: deny
                  from: { trustDomain: legacy.acme.corp }
                  to:   { trustDomain: acme.corp }
                - name: any-db
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/*" }
                  to:   { spiffeId: "spiffe://acme.corp/db", port: 5432 }
            """);
        Save(dir, "policy", "empty-rules.yaml", "apiVersion: anchorage.dev/v1alpha1\nkind: CommunicationPolicy\nmetadata: { name: none }\nspec: { rules: [] }\n");

        // server-config (agent-config gets docs/agent.yaml from make-seeds)
        Save(dir, "server-config", "server.yaml", """
            trustDomain: acme.corp
            dataDir: /var/lib/anchorage/server
            serverId: server-1
            datastore:
              postgres:
                connectionString: "Host=127.0.0.1;Database=anchorage;Username=anchorage"
            listen:
              agentApi: 127.0.0.1:8081
              adminSocket: /run/anchorage/server/admin.sock
              health: "[::1]:8080"
            ca:
              keyType: ec-p384
              caTtl: 48h
              x509SvidTtl: 1h30m
              jwtSvidTtl: 5m
              upstream: { certFile: /etc/anchorage/up.crt, keyFile: /etc/anchorage/up.key, bundleFile: /etc/anchorage/up-bundle.pem }
            bundle:
              refreshHint: 10m
            federation:
              refreshFloor: 90s
              bundleEndpoint:
                listen: 0.0.0.0:8443
                profile: https_web
                servingCert: { certFile: /etc/anchorage/web.crt, keyFile: /etc/anchorage/web.key }
            adminUids: [0, 1000]
            """);
        Save(dir, "server-config", "minimal.yaml", "trustDomain: acme.corp\n");
        Save(dir, "agent-config", "minimal.yaml", "trustDomain: acme.corp\nserverAddress: server.acme.corp:8081\ninsecureBootstrap: true\n");

        // audit-line: records as the agent writes them.
        Save(dir, "audit-line", "deny.json", AuditJson.ToLine(new AuditRecord
        {
            Time = Fixtures.Now, Kind = "connection", Direction = "outbound", Decision = "deny", Rule = "no-legacy", Reason = "policy",
            Process = new AuditProcess(4242, "/usr/bin/web", null, 1000, 1000, 12345),
            SpiffeId = "spiffe://acme.corp/web", PeerSpiffeId = "spiffe://payments.acme.corp/api", BytesIn = 10, DurationMs = 1.5,
        }));
        Save(dir, "audit-line", "bundle.json", AuditJson.ToLine(new AuditRecord
        {
            Time = Fixtures.Now, Kind = "bundle", TrustDomain = "acme.corp", Sequence = 3, AuthoritiesAdded = ["a", "b"], AuthoritiesRemoved = [],
            Authority = "ab12", AuthorityKind = "x509", Detail = "line\nbreak",
        }));

        // hpack: RFC 7541 C.4 (requests, Huffman) and C.6 (responses, eviction at size 256) as one
        // connection each; the first octet asks for three blocks, each example block is padded to one third.
        Save(dir, "hpack", "rfc7541-c4.bin", HpackSeed(
            "828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf", "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"));
        Save(dir, "hpack", "rfc7541-c6.bin", HpackSeed(
            "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
            "4883640effc1c0bf",
            "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"));
        Save(dir, "hpack", "size-update.bin", Convert.FromHexString("003fe101" + "40016101624001630164" + "1f10024869"));
    }

    // Three blocks of equal length (HpackTarget cuts the input evenly): each padded with the indexed
    // field 0x82, which changes no table.
    private static byte[] HpackSeed(params string[] hex)
    {
        var blocks = hex.Select(Convert.FromHexString).ToArray();
        var length = blocks.Max(b => b.Length);
        return [(byte)(blocks.Length - 1), .. blocks.SelectMany(b => b.Concat(Enumerable.Repeat((byte)0x82, length - b.Length)))];
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, ECDsa key, string subject, bool ca, string uri)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(ca ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(uri));
        request.CertificateExtensions.Add(san.Build());
        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        return request.Create(issuer, Fixtures.Now.AddDays(-1), Fixtures.Now.AddDays(30), serial);
    }

    private static string Pem(params X509Certificate2[] certificates) =>
        string.Concat(certificates.Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n"));

    private static void Save(string dir, string target, string name, string text) => Save(dir, target, name, Encoding.UTF8.GetBytes(text));

    private static void Save(string dir, string target, string name, byte[] bytes)
    {
        Directory.CreateDirectory(Path.Combine(dir, target));
        File.WriteAllBytes(Path.Combine(dir, target, name), bytes);
    }
}
