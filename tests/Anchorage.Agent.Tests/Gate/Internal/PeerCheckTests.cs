using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing.X509;

namespace Anchorage.Agent.Tests.Gate.Internal;

/// <summary>
/// <see cref="PeerCheck.Confirm"/>: after a real handshake, a stream is usable only when the check's
/// own callback accepted the certificate the stream holds (the guard for a runtime that would skip
/// the callback on a resumed session).
/// </summary>
public sealed class PeerCheckTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly TestCa Root = TestCa.CreateRoot("acme.corp");

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, "the peer's certificate was not verified")]
    public async Task Confirm_AfterHandshake_OnlyWhenItsCallbackAccepted(bool checkRuns, string? refusal)
    {
        var clock = TestClock.Create();
        var bundles = BundleSet.Empty.With(Root.Bundle());
        var intermediate = Root.CreateIntermediate();
        var client = Svid(intermediate.IssueLeaf(new() { Path = "/client" }));
        var server = Svid(intermediate.IssueLeaf(new() { Path = "/server" }));
        var check = new PeerCheck(new X509SvidVerifier(clock), bundles, Authorizer.Any());
        var options = SpiffeTls.MtlsClient(client, bundles, Authorizer.Any(), clock);
        if (checkRuns)
        {
            options.RemoteCertificateValidationCallback = check.Callback;
        }

        using var cts = new CancellationTokenSource(Deadline);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cts.Token);
        using var accepted = await listener.AcceptSocketAsync(cts.Token);
        await using var serverTls = new SslStream(new NetworkStream(accepted));
        await using var clientTls = new SslStream(new NetworkStream(socket));
        await Task.WhenAll(
            serverTls.AuthenticateAsServerAsync(SpiffeTls.MtlsServer(server, bundles, Authorizer.Any(), clock), cts.Token),
            clientTls.AuthenticateAsClientAsync(options, cts.Token));

        Assert.Equal(refusal, check.Confirm(clientTls));
    }

    private static X509Svid Svid(TestSvid svid) => new(svid.Chain, svid.Key);
}
