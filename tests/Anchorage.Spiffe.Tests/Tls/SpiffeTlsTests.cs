using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing;
using Anchorage.Testing.X509;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Spiffe.Tests.Tls;

/// <summary>
/// Real TLS over loopback sockets: <see cref="SslStream"/> on both sides (or the openssl CLI as an
/// independent peer), TLS 1.2 and 1.3. Every refusal is paired with a connection that succeeds on
/// the same fixtures, and every refusal is checked to come from the SPIFFE validator itself (the
/// observed callback returned false), not from an unrelated TLS failure.
/// </summary>
public sealed class SpiffeTlsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static readonly TestCa AcmeRoot = TestCa.CreateRoot("acme.corp");
    private static readonly TestCa AcmeIntermediate = AcmeRoot.CreateIntermediate();
    private static readonly TestCa PaymentsRoot = TestCa.CreateRoot("payments.acme.corp");
    private static readonly TestCa UnknownRoot = TestCa.CreateRoot("unknown.example");

    private static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://acme.corp/server");
    private static readonly SpiffeId ClientId = SpiffeId.Parse("spiffe://acme.corp/client");
    private static readonly SpiffeId PaymentsId = SpiffeId.Parse("spiffe://payments.acme.corp/billing");

    private static readonly X509Svid ServerSvid = Svid(AcmeRoot.IssueLeaf(new() { Path = "/server" }));
    private static readonly X509Svid ClientSvid = Svid(AcmeRoot.IssueLeaf(new() { Path = "/client" }));
    private static readonly X509Svid PaymentsSvid = Svid(PaymentsRoot.IssueLeaf(new() { Path = "/billing" }));

    /// <summary>Names payments.acme.corp but is signed by acme.corp's CA.</summary>
    private static readonly X509Svid ForgedPaymentsSvid = Svid(AcmeRoot.IssueLeaf(new() { UriSans = [PaymentsId.ToString()] }));

    private static readonly BundleSet AcmeOnly = BundleSet.Empty.With(AcmeRoot.Bundle());
    private static readonly BundleSet Federated = AcmeOnly.With(PaymentsRoot.Bundle());

    public static TheoryData<SslProtocols> Protocols => [SslProtocols.Tls12, SslProtocols.Tls13];

    private static X509Svid Svid(TestSvid svid) => new(svid.Chain, svid.Key);

    private static FakeTimeProvider Clock() => TestClock.Create();

    // ---- mTLS between two acme.corp workloads ----

    [Theory]
    [Trait("Spec", "X509-SVID 5")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_MtlsClient_BothSidesAuthorizeTheOthersId(SslProtocols protocol)
    {
        var serverSaw = new RecordingAuthorizer(Authorizer.Exact(ClientId));
        var clientSaw = new RecordingAuthorizer(Authorizer.Exact(ServerId));

        var result = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, serverSaw, Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, clientSaw, Clock()));

        result.AssertConnected(protocol);
        Assert.Equal([ClientId], serverSaw.Seen);
        Assert.Equal([ServerId], clientSaw.Seen);
        Assert.Equal(ClientId, result.Server.PeerId);
        Assert.Equal(ServerId, result.Client.PeerId);
        Assert.Equal([true], result.Server.Validations);
        Assert.Equal([true], result.Client.Validations);
    }

    [Fact]
    public async Task PeerId_BeforeHandshake_Throws()
    {
        await using var stream = new SslStream(new MemoryStream());
        Assert.Throws<InvalidOperationException>(() => SpiffeTls.PeerId(stream));
    }

    // ---- X509-SVID §5.1: the bundle of the peer's own trust domain, and only that ----

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_PeerOfOtherTrustDomain_RefusedWithoutItsBundleAndAcceptedWithIt(SslProtocols protocol)
    {
        SslClientAuthenticationOptions Client() => SpiffeTls.MtlsClient(PaymentsSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock());

        var control = await HandshakeAsync(
            protocol, SpiffeTls.MtlsServer(ServerSvid, Federated, Authorizer.MemberOf(PaymentsId.TrustDomain), Clock()), Client());
        control.AssertConnected(protocol);
        Assert.Equal(PaymentsId, control.Server.PeerId);

        var refused = await HandshakeAsync(
            protocol, SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Any(), Clock()), Client());
        refused.AssertServerRefusedClient();
        var ex = Assert.Throws<BundleNotFoundException>(() => new X509SvidVerifier(Clock()).Verify(PaymentsSvid.Certificates, AcmeOnly));
        Assert.Equal("no X.509 bundle for trust domain \"payments.acme.corp\"", ex.Message);
    }

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_CrossDomainForgery_RefusedThoughBothBundlesArePresent(SslProtocols protocol)
    {
        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, Federated, Authorizer.MemberOf(PaymentsId.TrustDomain), Clock()),
            SpiffeTls.MtlsClient(PaymentsSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        control.AssertConnected(protocol);

        var forged = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, Federated, Authorizer.MemberOf(PaymentsId.TrustDomain), Clock()),
            SpiffeTls.MtlsClient(ForgedPaymentsSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        forged.AssertServerRefusedClient();

        // The reason, on the same chain: acme.corp's CA does not vouch for payments.acme.corp IDs.
        var ex = Assert.Throws<SvidValidationException>(() => new X509SvidVerifier(Clock()).Verify(ForgedPaymentsSvid.Certificates, Federated));
        Assert.Equal("leaf certificate does not chain to an authority of trust domain \"payments.acme.corp\"", ex.Message);
    }

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsClient_ServerOfOtherTrustDomain_RefusedWithoutItsBundleAndAcceptedWithIt(SslProtocols protocol)
    {
        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(PaymentsSvid, AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(ClientSvid, Federated, Authorizer.Exact(PaymentsId), Clock()));
        control.AssertConnected(protocol);
        Assert.Equal(PaymentsId, control.Client.PeerId);

        var refused = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(PaymentsSvid, AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Any(), Clock()));
        refused.AssertClientRefusedServer();
    }

    // ---- authorization after verification ----

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_AuthorizerDenies_RefusedAndMemberOfTheDomainAccepted(SslProtocols protocol)
    {
        var denying = new RecordingAuthorizer(Authorizer.Exact(SpiffeId.Parse("spiffe://acme.corp/someone-else")));
        var refused = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, denying, Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        refused.AssertServerRefusedClient();
        Assert.Equal([ClientId], denying.Seen);
        Assert.Equal(
            "spiffe://acme.corp/client is not the expected SPIFFE ID spiffe://acme.corp/someone-else",
            Assert.Single(denying.Reasons));

        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.MemberOf(AcmeRoot.TrustDomain), Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        control.AssertConnected(protocol);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MtlsClient_AuthorizerDenies_RefusedAndMemberOfTheDomainAccepted(SslProtocols protocol)
    {
        var refused = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Any(), Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ClientId), Clock()));
        refused.AssertClientRefusedServer();

        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Any(), Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.MemberOf(AcmeRoot.TrustDomain), Clock()));
        control.AssertConnected(protocol);
    }

    // ---- X509-SVID §5.1: intermediates are sent; the peer needs only the root ----

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task Mtls_SvidsWithIntermediate_IntermediateIsSentAndVerifiesAgainstTheRootAlone(SslProtocols protocol)
    {
        var serverLeaf = AcmeIntermediate.IssueLeaf(new() { Path = "/server" });
        var clientLeaf = AcmeIntermediate.IssueLeaf(new() { Path = "/client" });
        Assert.Equal(AcmeRoot.Certificate, Assert.Single(AcmeOnly.X509Bundles[AcmeRoot.TrustDomain].Authorities));

        var result = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(Svid(serverLeaf), AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(Svid(clientLeaf), AcmeOnly, Authorizer.Exact(ServerId), Clock()));

        result.AssertConnected(protocol);
        Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, result.Server.PresentedThumbprints);
        Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, result.Client.PresentedThumbprints);

        // Control: the same leaves without their intermediate do not verify against the root alone.
        var leafOnly = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(new X509Svid([serverLeaf.Leaf], serverLeaf.Key), AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(Svid(clientLeaf), AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        leafOnly.AssertClientRefusedServer();
        Assert.DoesNotContain(AcmeIntermediate.Certificate.Thumbprint, leafOnly.Client.PresentedThumbprints);
    }

    // ---- rotation: every handshake presents the SVID current when its options are built ----

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MtlsClient_SourceRotates_OptionsBuiltAfterTheSwitchPresentTheNewSvid(SslProtocols protocol)
    {
        var a = Svid(AcmeRoot.IssueLeaf(new() { Path = "/client" }));
        var b = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/client" }));
        var source = new RotatingSource(a);

        var first = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(source, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        first.AssertConnected(protocol);
        Assert.Equal(a.Leaf.Thumbprint, first.Server.PeerThumbprint);

        source.Current = b;
        var second = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(source, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        second.AssertConnected(protocol);
        Assert.Equal(b.Leaf.Thumbprint, second.Server.PeerThumbprint);
        Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, second.Server.PresentedThumbprints);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServerCallback_SourceRotates_EachHandshakePresentsTheCurrentSvid(SslProtocols protocol)
    {
        var a = Svid(AcmeRoot.IssueLeaf(new() { Path = "/server" }));
        var b = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/server" }));
        var source = new RotatingSource(a);
        var callback = SpiffeTls.MtlsServerCallback(source, AcmeOnly, Authorizer.Exact(ClientId), Clock());

        var first = await HandshakeAsync(
            protocol, callback, SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        first.AssertConnected(protocol);
        Assert.Equal(a.Leaf.Thumbprint, first.Client.PeerThumbprint);
        Assert.Equal(ClientId, first.Server.PeerId);

        source.Current = b;
        var second = await HandshakeAsync(
            protocol, callback, SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        second.AssertConnected(protocol);
        Assert.Equal(b.Leaf.Thumbprint, second.Client.PeerThumbprint);
        Assert.Equal(ClientId, second.Server.PeerId);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServerCallback_ClientNotAuthorized_Refused(SslProtocols protocol)
    {
        var callback = SpiffeTls.MtlsServerCallback(ServerSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock());
        var refused = await HandshakeAsync(
            protocol, callback, SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        refused.AssertServerRefusedClient();

        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServerCallback(ServerSvid, AcmeOnly, Authorizer.Exact(ClientId), Clock()),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        control.AssertConnected(protocol);
    }

    // ---- server-only TLS, and a client without a certificate ----

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_ClientWithoutCertificate_RefusedButTlsServerAcceptsIt(SslProtocols protocol)
    {
        var refused = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Any(), Clock()),
            SpiffeTls.TlsClient(AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        refused.AssertServerRefusedClient();

        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.TlsServer(ServerSvid),
            SpiffeTls.TlsClient(AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        control.AssertConnected(protocol);
        Assert.Equal(ServerId, control.Client.PeerId);
        Assert.True(control.Server.PeerId.IsEmpty);
        Assert.Null(control.Server.PeerThumbprint);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task TlsClient_ServerNotAuthorized_Refused(SslProtocols protocol)
    {
        var refused = await HandshakeAsync(
            protocol,
            SpiffeTls.TlsServer(ServerSvid),
            SpiffeTls.TlsClient(AcmeOnly, Authorizer.Exact(ClientId), Clock()));
        refused.AssertClientRefusedServer();

        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.TlsServer(ServerSvid),
            SpiffeTls.TlsClient(AcmeOnly, Authorizer.Exact(ServerId), Clock()));
        control.AssertConnected(protocol);
    }

    // ---- X509-SVID §5.1: validity window at the injected time ----

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_ClientLeafExpired_RefusedAndValidBeforeNotAfter(SslProtocols protocol)
    {
        var late = TestClock.Create(ClientSvid.Leaf.NotAfter.ToUniversalTime().AddSeconds(1));
        var refused = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Any(), late),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Any(), Clock()));
        refused.AssertServerRefusedClient();

        var inTime = TestClock.Create(ClientSvid.Leaf.NotAfter.ToUniversalTime().AddSeconds(-1));
        var control = await HandshakeAsync(
            protocol,
            SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, Authorizer.Any(), inTime),
            SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, Authorizer.Any(), Clock()));
        control.AssertConnected(protocol);
    }

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task TlsClient_ServerLeafExpired_RefusedAndValidBeforeNotAfter(SslProtocols protocol)
    {
        var late = TestClock.Create(ServerSvid.Leaf.NotAfter.ToUniversalTime().AddSeconds(1));
        var refused = await HandshakeAsync(protocol, SpiffeTls.TlsServer(ServerSvid), SpiffeTls.TlsClient(AcmeOnly, Authorizer.Any(), late));
        refused.AssertClientRefusedServer();

        var control = await HandshakeAsync(protocol, SpiffeTls.TlsServer(ServerSvid), SpiffeTls.TlsClient(AcmeOnly, Authorizer.Any(), Clock()));
        control.AssertConnected(protocol);
    }

    // ---- argument checks ----

    [Fact]
    public void Builders_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsClient(null!, AcmeOnly, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsClient(ClientSvid, null!, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsClient(ClientSvid, AcmeOnly, null!));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.TlsClient(null!, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsServer(null!, AcmeOnly, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsServer(ServerSvid, null!, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsServer(ServerSvid, AcmeOnly, null!));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.TlsServer(null!));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsServerCallback(null!, AcmeOnly, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsServerCallback(ServerSvid, null!, Authorizer.Any()));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.MtlsServerCallback(ServerSvid, AcmeOnly, null!));
        Assert.Throws<ArgumentNullException>(() => SpiffeTls.PeerId(null!));
    }

    // ---- interop: the openssl CLI as an independent TLS peer ----

    [Theory]
    [Trait("Category", "Interop")]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsClient_OpenSslServerRequiringClientSvids_AcceptsOurSvidAndRefusesAnUnknownDomain(SslProtocols protocol)
    {
        using var openssl = new OpenSsl();
        var serverLeaf = AcmeIntermediate.IssueLeaf(new() { Path = "/server" });
        var clientSvid = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/client" }));
        WriteSvidFiles(openssl, "server", serverLeaf);
        openssl.WriteFile("bundle.pem", AcmeRoot.Bundle().ToPem());

        string[] args =
        [
            "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev",
            "-cert", "server.pem", "-key", "server.key", "-cert_chain", "server-chain.pem",
            "-CAfile", "bundle.pem", "-no-CApath", "-no-CAstore", "-Verify", "1", "-verify_return_error",
            "-attime", AtTime, OpenSslProtocol(protocol),
        ];

        // Control first: our SVID (leaf + intermediate) verifies at openssl against the root alone.
        await using (var server = OpenSslProcess.Start(openssl, args))
        {
            var port = await server.WaitForAcceptAsync();
            var echoed = await ClientRoundTripAsync(
                port, protocol, SpiffeTls.MtlsClient(clientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock()));
            Assert.True(echoed.Error is null, $"client failed: {echoed.Error}\nopenssl:\n{server.Output}");
            Assert.Equal(ServerId, echoed.PeerId);
            Assert.Equal("gnip", echoed.Line);
        }

        // A client SVID of a trust domain s_server has no bundle for is refused by openssl.
        await using (var server = OpenSslProcess.Start(openssl, args))
        {
            var port = await server.WaitForAcceptAsync();
            var refused = await ClientRoundTripAsync(
                port, protocol, SpiffeTls.MtlsClient(Svid(UnknownRoot.IssueLeaf()), AcmeOnly, Authorizer.Exact(ServerId), Clock()));
            Assert.NotNull(refused.Error);
            Assert.Null(refused.Line);
            await server.WaitForExitAsync();
            Assert.Contains("unable to get local issuer certificate", server.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [Trait("Category", "Interop")]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_OpenSslClientWithSvid_ConnectsAndUnknownDomainIsRefused(SslProtocols protocol)
    {
        using var openssl = new OpenSsl();
        var serverSvid = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/server" }));
        WriteSvidFiles(openssl, "client", AcmeIntermediate.IssueLeaf(new() { Path = "/client" }));
        WriteSvidFiles(openssl, "stranger", UnknownRoot.CreateIntermediate().IssueLeaf(new() { Path = "/client" }));
        openssl.WriteFile("bundle.pem", AcmeRoot.Bundle().ToPem());

        string[] ClientArgs(string name, int port) =>
        [
            "s_client", "-connect", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), "-ign_eof",
            "-cert", name + ".pem", "-key", name + ".key", "-cert_chain", name + "-chain.pem",
            "-CAfile", "bundle.pem", "-no-CApath", "-no-CAstore", "-verify_return_error",
            "-attime", AtTime, OpenSslProtocol(protocol),
        ];

        var control = await ServeOpenSslClientAsync(openssl, protocol, serverSvid, name => ClientArgs("client", name));
        Assert.True(control.Server.Error is null, $"server failed: {control.Server.Error}\nopenssl:\n{control.OpenSslOutput}");
        Assert.Equal(ClientId, control.Server.PeerId);
        Assert.Equal([true], control.Server.Validations);
        Assert.Contains("pong spiffe://acme.corp/client", control.OpenSslOutput, StringComparison.Ordinal);
        Assert.Contains("Verify return code: 0 (ok)", control.OpenSslOutput, StringComparison.Ordinal);

        var refused = await ServeOpenSslClientAsync(openssl, protocol, serverSvid, name => ClientArgs("stranger", name));
        Assert.IsType<AuthenticationException>(refused.Server.Error);
        Assert.Equal([false], refused.Server.Validations);
        Assert.DoesNotContain("pong", refused.OpenSslOutput, StringComparison.Ordinal);
    }

    /// <summary>
    /// OpenSSL keeps only the peer's leaf in a resumable session, not the intermediates it sent, so
    /// a resumed connection cannot be verified again; SpiffeTls turns resumption off, and every
    /// connection is a full handshake that verifies and authorizes the SVID presented now.
    /// </summary>
    [Theory]
    [Trait("Category", "Interop")]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_OpenSslClientOffersASession_FullHandshakeVerifiesTheChainAgain(SslProtocols protocol)
    {
        using var openssl = new OpenSsl();
        var serverSvid = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/server" }));
        WriteSvidFiles(openssl, "client", AcmeIntermediate.IssueLeaf(new() { Path = "/client" }));
        openssl.WriteFile("bundle.pem", AcmeRoot.Bundle().ToPem());
        string[] ClientArgs(string session, int port) =>
        [
            "s_client", "-connect", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), "-ign_eof",
            "-cert", "client.pem", "-key", "client.key", "-cert_chain", "client-chain.pem",
            "-CAfile", "bundle.pem", "-no-CApath", "-no-CAstore", "-verify_return_error",
            "-attime", AtTime, OpenSslProtocol(protocol),
            // With resumption off, a TLS 1.2 server hands out nothing to resume and s_client saves no session.
            .. session == "-sess_out" || File.Exists(openssl.PathOf("session.pem")) ? new[] { session, "session.pem" } : [],
        ];

        var first = await ServeOpenSslClientAsync(openssl, protocol, serverSvid, port => ClientArgs("-sess_out", port));
        Assert.True(first.Server.Error is null, $"server failed: {first.Server.Error}\nopenssl:\n{first.OpenSslOutput}");

        var again = await ServeOpenSslClientAsync(openssl, protocol, serverSvid, port => ClientArgs("-sess_in", port));
        Assert.True(again.Server.Error is null, $"server failed: {again.Server.Error}\nopenssl:\n{again.OpenSslOutput}");
        Assert.Equal([true], again.Server.Validations);
        Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, again.Server.PresentedThumbprints);
        Assert.Contains("pong spiffe://acme.corp/client", again.OpenSslOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("Reused,", again.OpenSslOutput, StringComparison.Ordinal);

        // A session from a permissive endpoint gets nothing past a strict one with the same SVID.
        var strict = await ServeOpenSslClientAsync(
            openssl, protocol, serverSvid, port => ClientArgs("-sess_in", port), Authorizer.Exact(ServerId));
        Assert.IsType<AuthenticationException>(strict.Server.Error);
        Assert.Equal([false], strict.Server.Validations);
        Assert.DoesNotContain("pong", strict.OpenSslOutput, StringComparison.Ordinal);
    }

    /// <summary>The client side of the same rule: even with SNI set (which lets SslStream cache sessions), every connection verifies the server's chain.</summary>
    [Theory]
    [Trait("Category", "Interop")]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsClient_ResumableOpenSslServer_EveryConnectionVerifiesTheChain(SslProtocols protocol)
    {
        using var openssl = new OpenSsl();
        WriteSvidFiles(openssl, "server", AcmeIntermediate.IssueLeaf(new() { Path = "/server" }));
        openssl.WriteFile("bundle.pem", AcmeRoot.Bundle().ToPem());
        await using var server = OpenSslProcess.Start(openssl,
        [
            "s_server", "-accept", "127.0.0.1:0", "-naccept", "2", "-rev",
            "-cert", "server.pem", "-key", "server.key", "-cert_chain", "server-chain.pem",
            "-CAfile", "bundle.pem", "-no-CApath", "-no-CAstore", "-Verify", "1", "-verify_return_error",
            "-attime", AtTime, OpenSslProtocol(protocol),
        ]);
        var port = await server.WaitForAcceptAsync();
        var clientSvid = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/client" }));

        for (var i = 0; i < 2; i++)
        {
            var side = new Side();
            var options = SpiffeTls.MtlsClient(clientSvid, AcmeOnly, Authorizer.Exact(ServerId), Clock());
            options.TargetHost = "server.acme.corp";
            Observe(options, side);
            var outcome = await ClientRoundTripAsync(port, protocol, options);
            Assert.True(outcome.Error is null, $"connection {i + 1} failed: {outcome.Error}\nopenssl:\n{server.Output}");
            Assert.Equal("gnip", outcome.Line);
            Assert.Equal([true], side.Validations);
            Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, side.PresentedThumbprints);
        }
    }

    /// <summary>
    /// TlsClient never resumes, so a server whose authority was revoked meanwhile cannot be
    /// accepted again on a session. Proven against openssl's status page, which says
    /// <c>Reused,</c> or <c>New,</c>; the control shows the same options with resumption on do
    /// resume, so the test can fail. The control also records what the agent gate's direct mTLS
    /// relies on (docs/gate-transport.md): SslStream calls the validation callback on the resumed
    /// handshake too, with the server's chain (intermediate included) kept in the session.
    /// </summary>
    [Theory]
    [Trait("Category", "Interop")]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task TlsClient_ResumingOpenSslServer_NeverResumesWhileResumptionOnWould(SslProtocols protocol)
    {
        using var openssl = new OpenSsl();
        WriteSvidFiles(openssl, "server", AcmeIntermediate.IssueLeaf(new() { Path = "/server" }));
        await using var server = OpenSslProcess.Start(openssl,
        [
            "s_server", "-accept", "127.0.0.1:0", "-naccept", "4", "-www",
            "-cert", "server.pem", "-key", "server.key", "-cert_chain", "server-chain.pem", OpenSslProtocol(protocol),
        ]);
        var port = await server.WaitForAcceptAsync();

        async Task<string> SessionAsync(bool allowResume, string host, Side? side = null)
        {
            var options = SpiffeTls.TlsClient(AcmeOnly, Authorizer.Exact(ServerId), Clock());
            // SslStream caches sessions per target host: give it one, as an application might.
            options.TargetHost = host;
            options.AllowTlsResume = allowResume || options.AllowTlsResume;
            if (side is not null)
            {
                Observe(options, side);
            }

            var page = await ClientRequestAsync(port, protocol, options);
            Assert.True(page.Error is null, $"request failed: {page.Error}\nopenssl:\n{server.Output}");
            return page.Line!.Contains("Reused,", StringComparison.Ordinal) ? "reused" : page.Line.Contains("New,", StringComparison.Ordinal) ? "new" : page.Line;
        }

        Assert.Equal("new", await SessionAsync(allowResume: false, "strict.acme.corp"));
        Assert.Equal("new", await SessionAsync(allowResume: false, "strict.acme.corp"));
        Assert.Equal("new", await SessionAsync(allowResume: true, "lax.acme.corp"));
        var resumed = new Side();
        Assert.Equal("reused", await SessionAsync(allowResume: true, "lax.acme.corp", resumed));
        Assert.Equal([true], resumed.Validations);
        Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, resumed.PresentedThumbprints);
    }

    /// <summary>
    /// Why servers keep resumption off, and why the agent gate, which turns it on, keeps verified
    /// chains (docs/gate-transport.md): forced on, SslStream does call the validation callback on
    /// the resumed handshake (openssl says <c>Reused,</c>), but shows it the client's leaf without
    /// the intermediate it sent, so the SPIFFE validator cannot chain it and refuses.
    /// </summary>
    [Theory]
    [Trait("Category", "Interop")]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(Protocols))]
    public async Task MtlsServer_ResumptionForcedOn_ResumedClientShowsOnlyItsLeafAndIsRefused(SslProtocols protocol)
    {
        using var openssl = new OpenSsl();
        var serverSvid = Svid(AcmeIntermediate.IssueLeaf(new() { Path = "/server" }));
        WriteSvidFiles(openssl, "client", AcmeIntermediate.IssueLeaf(new() { Path = "/client" }));
        openssl.WriteFile("bundle.pem", AcmeRoot.Bundle().ToPem());
        string[] ClientArgs(string session, int port) =>
        [
            "s_client", "-connect", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), "-ign_eof",
            "-cert", "client.pem", "-key", "client.key", "-cert_chain", "client-chain.pem",
            "-CAfile", "bundle.pem", "-no-CApath", "-no-CAstore", "-verify_return_error",
            "-attime", AtTime, OpenSslProtocol(protocol), session, "session.pem",
        ];

        var first = await ServeOpenSslClientAsync(openssl, protocol, serverSvid, port => ClientArgs("-sess_out", port), allowResume: true);
        Assert.True(first.Server.Error is null, $"server failed: {first.Server.Error}\nopenssl:\n{first.OpenSslOutput}");
        Assert.Contains(AcmeIntermediate.Certificate.Thumbprint, first.Server.PresentedThumbprints);

        var again = await ServeOpenSslClientAsync(openssl, protocol, serverSvid, port => ClientArgs("-sess_in", port), allowResume: true);
        Assert.Contains("Reused,", again.OpenSslOutput, StringComparison.Ordinal);
        Assert.IsType<AuthenticationException>(again.Server.Error);
        Assert.Equal([false], again.Server.Validations);
        Assert.Empty(again.Server.PresentedThumbprints);
        Assert.DoesNotContain("pong", again.OpenSslOutput, StringComparison.Ordinal);
    }

    // ---- harness: one loopback connection, SslStream on both sides ----

    private static readonly string AtTime = TestClock.Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    private static string OpenSslProtocol(SslProtocols protocol) => protocol == SslProtocols.Tls13 ? "-tls1_3" : "-tls1_2";

    /// <summary>Writes <c>name.pem</c> (leaf), <c>name-chain.pem</c> (intermediates) and <c>name.key</c>.</summary>
    private static void WriteSvidFiles(OpenSsl openssl, string name, TestSvid svid)
    {
        openssl.WriteFile(name + ".pem", PemEncoding.WriteString("CERTIFICATE", svid.Leaf.RawData) + "\n");
        openssl.WriteFile(name + "-chain.pem", string.Concat(svid.Intermediates.Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n")));
        openssl.WriteFile(name + ".key", svid.KeyPem);
    }

    private static Task<Result> HandshakeAsync(SslProtocols protocol, SslServerAuthenticationOptions server, SslClientAuthenticationOptions client)
    {
        var serverSide = new Side();
        server.EnabledSslProtocols = protocol;
        Observe(server, serverSide);
        return HandshakeAsync(protocol, serverSide, (stream, ct) => stream.AuthenticateAsServerAsync(server, ct), client);
    }

    private static Task<Result> HandshakeAsync(SslProtocols protocol, ServerOptionsSelectionCallback server, SslClientAuthenticationOptions client)
    {
        var serverSide = new Side();
        ServerOptionsSelectionCallback observed = async (stream, hello, state, ct) =>
        {
            var options = await server(stream, hello, state, ct);
            Observe(options, serverSide);
            return options;
        };
        return HandshakeAsync(protocol, serverSide, (stream, ct) => stream.AuthenticateAsServerAsync(observed, null, ct), client);
    }

    private static async Task<Result> HandshakeAsync(
        SslProtocols protocol, Side serverSide, Func<SslStream, CancellationToken, Task> authenticateServer, SslClientAuthenticationOptions client)
    {
        var clientSide = new Side();
        client.EnabledSslProtocols = protocol;
        Observe(client, clientSide);

        using var cts = new CancellationTokenSource(Deadline);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var serverTask = RunSideAsync(serverSide, async ct =>
        {
            var socket = await listener.AcceptSocketAsync(ct);
            return new NetworkStream(socket, ownsSocket: true);
        }, authenticateServer, isServer: true, cts.Token);
        var clientTask = RunSideAsync(clientSide, async ct =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }, (stream, ct) => stream.AuthenticateAsClientAsync(client, ct), isServer: false, cts.Token);

        await Task.WhenAll(serverTask, clientTask);
        Assert.False(cts.IsCancellationRequested, $"the connection did not finish within {Deadline}");
        return new Result(serverSide, clientSide);
    }

    /// <summary>Authenticates, then the server sends one byte and the client answers with one (TLS 1.3 reports a refused client certificate only then).</summary>
    private static async Task RunSideAsync(
        Side side,
        Func<CancellationToken, Task<NetworkStream>> connect,
        Func<SslStream, CancellationToken, Task> authenticate,
        bool isServer,
        CancellationToken ct)
    {
        try
        {
            await using var tls = new SslStream(await connect(ct), leaveInnerStreamOpen: false);
            await authenticate(tls, ct);
            side.Protocol = tls.SslProtocol;
            side.PeerId = SpiffeTls.PeerId(tls);
            side.PeerThumbprint = tls.RemoteCertificate?.GetCertHashString();
            var buffer = new byte[1];
            if (isServer)
            {
                await tls.WriteAsync("s"u8.ToArray(), ct);
                await tls.FlushAsync(ct);
                await tls.ReadExactlyAsync(buffer, ct);
                Assert.Equal((byte)'c', buffer[0]);
            }
            else
            {
                await tls.ReadExactlyAsync(buffer, ct);
                Assert.Equal((byte)'s', buffer[0]);
                await tls.WriteAsync("c"u8.ToArray(), ct);
                await tls.FlushAsync(ct);
            }

            side.Exchanged = true;
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            side.Error = ex;
        }
    }

    private static void Observe(SslServerAuthenticationOptions options, Side side)
    {
        if (options.RemoteCertificateValidationCallback is { } inner)
        {
            options.RemoteCertificateValidationCallback = Observing(inner, side);
        }
    }

    private static void Observe(SslClientAuthenticationOptions options, Side side)
    {
        var inner = options.RemoteCertificateValidationCallback;
        Assert.NotNull(inner);
        options.RemoteCertificateValidationCallback = Observing(inner, side);
    }

    /// <summary>Records what the peer presented and what the SPIFFE validator decided.</summary>
    private static RemoteCertificateValidationCallback Observing(RemoteCertificateValidationCallback inner, Side side) =>
        (sender, certificate, chain, errors) =>
        {
            lock (side)
            {
                if (chain is not null)
                {
                    foreach (var extra in chain.ChainPolicy.ExtraStore)
                    {
                        side.PresentedThumbprints.Add(extra.Thumbprint);
                    }
                }
            }

            var decision = inner(sender, certificate, chain, errors);
            lock (side)
            {
                side.Validations.Add(decision);
            }

            return decision;
        };

    private sealed class Side
    {
        public Exception? Error { get; set; }

        public bool Exchanged { get; set; }

        public SslProtocols Protocol { get; set; }

        public SpiffeId PeerId { get; set; }

        public string? PeerThumbprint { get; set; }

        /// <summary>Thumbprints of the certificates the peer sent, as seen by the validation callback.</summary>
        public List<string> PresentedThumbprints { get; } = [];

        /// <summary>The SPIFFE validator's decisions, in order.</summary>
        public List<bool> Validations { get; } = [];
    }

    private sealed record Result(Side Server, Side Client)
    {
        public void AssertConnected(SslProtocols protocol)
        {
            Assert.True(Server.Error is null && Client.Error is null, $"server: {Server.Error}\nclient: {Client.Error}");
            Assert.True(Server.Exchanged && Client.Exchanged);
            Assert.Equal(protocol, Server.Protocol);
            Assert.Equal(protocol, Client.Protocol);
        }

        /// <summary>The server's SPIFFE validator said no; the handshake failed there, and the client never got to talk.</summary>
        public void AssertServerRefusedClient()
        {
            Assert.Equal([false], Server.Validations);
            Assert.IsType<AuthenticationException>(Server.Error);
            Assert.False(Server.Exchanged);
            Assert.False(Client.Exchanged);
            Assert.NotNull(Client.Error);
        }

        /// <summary>The client's SPIFFE validator said no: the client's handshake failed and the server got nothing.</summary>
        public void AssertClientRefusedServer()
        {
            Assert.Equal([false], Client.Validations);
            Assert.IsType<AuthenticationException>(Client.Error);
            Assert.False(Server.Exchanged);
            Assert.False(Client.Exchanged);
        }
    }

    private sealed class RecordingAuthorizer(Authorizer inner) : Authorizer
    {
        private readonly List<SpiffeId> _seen = [];
        private readonly List<string> _reasons = [];

        public IReadOnlyList<SpiffeId> Seen
        {
            get
            {
                lock (_seen)
                {
                    return [.. _seen];
                }
            }
        }

        public IReadOnlyList<string> Reasons
        {
            get
            {
                lock (_seen)
                {
                    return [.. _reasons];
                }
            }
        }

        public override AuthorizationResult Authorize(SpiffeId id)
        {
            var result = inner.Authorize(id);
            lock (_seen)
            {
                _seen.Add(id);
                if (!result.IsAllowed)
                {
                    _reasons.Add(result.Reason);
                }
            }

            return result;
        }
    }

    private sealed class RotatingSource(X509Svid current) : IX509SvidSource
    {
        private X509Svid _current = current;

        public X509Svid Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }

        public X509Svid GetX509Svid() => Current;
    }

    // ---- harness: openssl as the peer ----

    private sealed record ClientOutcome(Exception? Error, SpiffeId PeerId, string? Line);

    /// <summary>Connects our client to an openssl server, sends "ping\n" and reads one line back.</summary>
    private static async Task<ClientOutcome> ClientRoundTripAsync(int port, SslProtocols protocol, SslClientAuthenticationOptions options)
    {
        options.EnabledSslProtocols = protocol;
        using var cts = new CancellationTokenSource(Deadline);
        var peer = default(SpiffeId);
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(options, cts.Token);
            peer = SpiffeTls.PeerId(tls);
            await tls.WriteAsync("ping\n"u8.ToArray(), cts.Token);
            await tls.FlushAsync(cts.Token);
            var line = await ReadLineAsync(tls, cts.Token);
            return new ClientOutcome(line is null ? new IOException("connection closed before a line arrived") : null, peer, line);
        }
        catch (Exception ex) when (!cts.IsCancellationRequested)
        {
            return new ClientOutcome(ex, peer, null);
        }
    }

    /// <summary>Sends an HTTP/1.0 GET to an <c>s_server -www</c> and returns the whole answer as <see cref="ClientOutcome.Line"/>.</summary>
    private static async Task<ClientOutcome> ClientRequestAsync(int port, SslProtocols protocol, SslClientAuthenticationOptions options)
    {
        options.EnabledSslProtocols = protocol;
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(options, cts.Token);
            await tls.WriteAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), cts.Token);
            await tls.FlushAsync(cts.Token);
            using var reader = new StreamReader(tls, Encoding.UTF8);
            return new ClientOutcome(null, SpiffeTls.PeerId(tls), await reader.ReadToEndAsync(cts.Token));
        }
        catch (Exception ex) when (!cts.IsCancellationRequested)
        {
            return new ClientOutcome(ex, default, null);
        }
    }

    private static async Task<string?> ReadLineAsync(Stream stream, CancellationToken ct)
    {
        var bytes = new List<byte>();
        var buffer = new byte[1];
        while (await stream.ReadAsync(buffer, ct) == 1)
        {
            if (buffer[0] == (byte)'\n')
            {
                return Encoding.UTF8.GetString([.. bytes]).TrimEnd('\r');
            }

            bytes.Add(buffer[0]);
        }

        return null;
    }

    private sealed record ServerOutcome(Side Server, string OpenSslOutput);

    /// <summary>Runs our MtlsServer for one openssl s_client: reads a line, answers "pong &lt;peer id&gt;", closes.</summary>
    private static async Task<ServerOutcome> ServeOpenSslClientAsync(
        OpenSsl openssl, SslProtocols protocol, X509Svid serverSvid, Func<int, string[]> clientArgs, Authorizer? authorizer = null, bool allowResume = false)
    {
        var side = new Side();
        var options = SpiffeTls.MtlsServer(serverSvid, AcmeOnly, authorizer ?? Authorizer.MemberOf(AcmeRoot.TrustDomain), Clock());
        options.EnabledSslProtocols = protocol;
        options.AllowTlsResume = allowResume;
        Observe(options, side);

        using var cts = new CancellationTokenSource(Deadline);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var client = OpenSslProcess.Start(openssl, clientArgs(port), stdin: "ping\n");
        try
        {
            var accept = listener.AcceptSocketAsync(cts.Token).AsTask();
            if (await Task.WhenAny(accept, client.Exited) != accept)
            {
                Assert.Fail($"openssl exited without connecting:\n{client.Output}");
            }

            using var socket = await accept;
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsServerAsync(options, cts.Token);
            side.PeerId = SpiffeTls.PeerId(tls);
            var line = await ReadLineAsync(tls, cts.Token);
            Assert.Equal("ping", line);
            await tls.WriteAsync(Encoding.UTF8.GetBytes($"pong {side.PeerId}\n"), cts.Token);
            await tls.ShutdownAsync();
            side.Exchanged = true;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"the connection did not finish within {Deadline}; openssl:\n{client.Output}");
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            side.Error = ex;
        }

        await client.WaitForExitAsync();
        return new ServerOutcome(side, client.Output);
    }

    /// <summary>
    /// A long-running openssl process (s_server, s_client) with its stdout and stderr collected
    /// line by line. Every wait is bounded; disposing kills the process if it is still running.
    /// </summary>
    private sealed class OpenSslProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
        private readonly StringBuilder _output = new();

        private OpenSslProcess(Process process)
        {
            _process = process;
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static OpenSslProcess Start(OpenSsl openssl, string[] args, string? stdin = null)
        {
            var info = new ProcessStartInfo("openssl")
            {
                WorkingDirectory = openssl.WorkDir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            var process = new Process { StartInfo = info };
            var result = new OpenSslProcess(process);
            process.OutputDataReceived += (_, e) => result.OnLine(e.Data);
            process.ErrorDataReceived += (_, e) => result.OnLine(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (stdin is not null)
            {
                // s_client sends this after its handshake; -ign_eof keeps it open until the server closes.
                try
                {
                    process.StandardInput.Write(stdin);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // openssl exited early (bad arguments, refused connection); its output says why.
                }
            }
            else
            {
                process.StandardInput.Close();
            }

            return result;
        }

        /// <summary>Waits for s_server's "ACCEPT host:port" line and returns the port.</summary>
        public async Task<int> WaitForAcceptAsync()
        {
            using var cts = new CancellationTokenSource(Deadline);
            try
            {
                await foreach (var line in _lines.Reader.ReadAllAsync(cts.Token))
                {
                    if (line.StartsWith("ACCEPT ", StringComparison.Ordinal))
                    {
                        return int.Parse(line[(line.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"openssl did not print ACCEPT within {Deadline}:\n{Output}");
            }

            Assert.Fail($"openssl exited before ACCEPT:\n{Output}");
            return 0;
        }

        /// <summary>Completes when the process exits (never faults).</summary>
        public Task Exited => _process.WaitForExitAsync();

        public async Task WaitForExitAsync()
        {
            using var cts = new CancellationTokenSource(Deadline);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"openssl did not exit within {Deadline}:\n{Output}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    using var cts = new CancellationTokenSource(Deadline);
                    await _process.WaitForExitAsync(cts.Token);
                }
            }
            finally
            {
                _process.Dispose();
            }
        }

        private void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }

            _lines.Writer.TryWrite(line);
        }
    }
}
