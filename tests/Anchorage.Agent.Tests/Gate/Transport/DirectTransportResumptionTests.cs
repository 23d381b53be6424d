using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Gate;
using Anchorage.Agent.Gate.Transport;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Gate.Transport;

/// <summary>
/// Direct mTLS between two gates resumes TLS sessions, and a resumed session is verified as a full
/// handshake is: against the bundle, the authorizer and the clock of that moment. Real SslStream
/// over loopback, through a relay that counts the bytes each side sends: on a resumed handshake
/// the server sends no certificates, so it sends at least its chain's length less than on the
/// full handshake before it. That is how these tests know a connection resumed.
/// </summary>
public sealed class DirectTransportResumptionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly SpiffeId ClientId = SpiffeId.Parse("spiffe://acme.corp/client");
    private static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://acme.corp/server");
    private const string NoAuthority = "leaf certificate does not chain to an authority of trust domain \"acme.corp\"";
    private static readonly AuditProcess Caller = new(4242, "/usr/bin/app", null, 1000, 1000, 1);

    [Fact]
    public async Task DialAsync_SecondConnection_ResumesAndIsVerifiedInFull()
    {
        await using var gates = new Gates();

        var full = await gates.ConnectAsync();
        var resumed = await gates.ConnectAsync();

        full.AssertExchanged();
        resumed.AssertExchanged();
        gates.AssertResumed(full, resumed);
        Assert.Equal(ServerId, resumed.Client.Channel!.PeerId);
        Assert.Equal(ClientId, resumed.Server.Channel!.PeerId);

        // The server saw only the client's leaf; the chain it keeps (for re-verification on bundle
        // changes) is the whole one, the intermediates taken from the full handshake.
        Assert.Equal(gates.ClientSvid.Certificates.Select(c => c.Thumbprint), resumed.Server.Channel.PeerChain.Select(c => c.Thumbprint));
        Assert.Equal(gates.ServerSvid.Certificates.Select(c => c.Thumbprint), resumed.Client.Channel.PeerChain.Select(c => c.Thumbprint));
    }

    /// <summary>
    /// The outbound gate presents each calling process's own SVID: a session made with one SVID is
    /// never offered with another, so the inbound gate never sees one process under another's ID.
    /// </summary>
    [Fact]
    public async Task DialAsync_OtherCallersSvid_FullHandshakeWithItsOwnId_ControlResumes()
    {
        await using var gates = new Gates();
        var other = Gates.Svid(gates.Intermediate.IssueLeaf(new() { Path = "/other-client" }));
        var full = await gates.ConnectAsync();
        full.AssertExchanged();

        var second = await gates.ConnectAsync(svid: other);
        var control = await gates.ConnectAsync();

        second.AssertExchanged();
        gates.AssertNotResumed(full, second);
        Assert.Equal(SpiffeId.Parse("spiffe://acme.corp/other-client"), second.Server.Channel!.PeerId);
        control.AssertExchanged();
        gates.AssertResumed(full, control);
        Assert.Equal(ClientId, control.Server.Channel!.PeerId);
    }

    [Theory]
    [InlineData("client")]
    [InlineData("server")]
    public async Task DialAsync_AuthorityRemovedAfterFirstHandshake_ResumedSessionRefused(string side)
    {
        await using var gates = new Gates();
        var full = await gates.ConnectAsync();
        full.AssertExchanged();

        // acme.corp's bundle now holds another authority only: the one that issued the peer is gone.
        var replaced = BundleSet.Empty.With(TestCa.CreateRoot("acme.corp").Bundle());
        if (side == "client")
        {
            gates.ClientBundles = replaced;
        }
        else
        {
            gates.ServerBundles = replaced;
        }

        var again = await gates.ConnectAsync();

        gates.AssertResumed(full, again);
        if (side == "client")
        {
            again.AssertClientRefused(NoAuthority);
        }
        else
        {
            again.AssertServerRefused(NoAuthority);
        }
    }

    [Fact]
    public async Task DialAsync_PeerNoLongerAuthorized_ResumedSessionRefused()
    {
        await using var gates = new Gates();
        var full = await gates.ConnectAsync(Authorizer.Exact(ServerId));
        full.AssertExchanged();

        var again = await gates.ConnectAsync(Authorizer.Exact(SpiffeId.Parse("spiffe://acme.corp/other")));

        gates.AssertResumed(full, again);
        again.AssertClientRefused($"peer {ServerId} is not the expected peer");
    }

    [Theory]
    [InlineData("client")]
    [InlineData("server")]
    public async Task DialAsync_PeerLeafExpiredSinceFirstHandshake_ResumedSessionRefused(string side)
    {
        await using var gates = new Gates();
        var full = await gates.ConnectAsync();
        full.AssertExchanged();

        // Test leaves are valid for an hour either side of TestClock.Now.
        (side == "client" ? gates.ClientClock : gates.ServerClock).Advance(TimeSpan.FromHours(2));
        var again = await gates.ConnectAsync();

        gates.AssertResumed(full, again);
        if (side == "client")
        {
            again.AssertClientRefused("leaf certificate expired at 2030-01-01T01:00:00Z");
        }
        else
        {
            again.AssertServerRefused("leaf certificate expired at 2030-01-01T01:00:00Z");
        }
    }

    /// <summary>
    /// The inbound gate remembers at most <c>resumableChains</c> peer chains; a resumed client whose
    /// chain was dropped shows a lone leaf that cannot be verified, and is refused. The control
    /// (room for both) shows the same sequence accepted.
    /// </summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public async Task AcceptAsync_ChainDroppedFromBoundedCache_ResumedSessionRefused(int resumableChains, bool accepted)
    {
        await using var gates = new Gates(resumableChains);
        var first = gates.ClientSvid;
        var second = Gates.Svid(gates.Intermediate.IssueLeaf(new() { Path = "/client-b" }));

        var full = await gates.ConnectAsync(svid: first);
        full.AssertExchanged();
        (await gates.ConnectAsync(svid: second)).AssertExchanged();
        Assert.Equal(resumableChains, gates.ServerGate.Chains.Count);

        var again = await gates.ConnectAsync(svid: first);

        gates.AssertResumed(full, again);
        if (accepted)
        {
            again.AssertExchanged();
        }
        else
        {
            again.AssertServerRefused(NoAuthority);
        }

        Assert.True(gates.ServerGate.Chains.Count <= resumableChains);
    }

    /// <summary>
    /// The inbound gate presents the SVID of the process behind its forward address, and that
    /// process can change. A session made while it presented one ID must never be resumed once it
    /// presents another: the client would take the new listener for the old ID and authorize it as
    /// such. The new SVID's handshake is full, so the client sees (and here refuses) the new ID.
    /// </summary>
    [Fact]
    public async Task AcceptAsync_ServerPresentsAnotherId_FullHandshake_ClientSeesTheNewId()
    {
        await using var gates = new Gates();
        var otherServer = Gates.Svid(gates.Intermediate.IssueLeaf(new() { Path = "/other-server" }));
        var full = await gates.ConnectAsync();
        full.AssertExchanged();

        var other = await gates.ConnectAsync(serverSvid: otherServer);
        var allowed = await gates.ConnectAsync(authorizer: Authorizer.Any(), serverSvid: otherServer);

        other.AssertClientRefused($"peer spiffe://acme.corp/other-server is not the expected peer");
        allowed.AssertExchanged();
        Assert.Equal(SpiffeId.Parse("spiffe://acme.corp/other-server"), allowed.Client.Channel!.PeerId);
        Assert.Equal(otherServer.Certificates.Select(c => c.Thumbprint), allowed.Client.Channel.PeerChain.Select(c => c.Thumbprint));
    }

    /// <summary>Two gates (one client, one server) on one CA, each with its own fake clock, and a counting relay between them.</summary>
    private sealed class Gates : IAsyncDisposable
    {
        private readonly TcpListener _relay = new(IPAddress.Loopback, 0);
        private readonly TcpListener _server = new(IPAddress.Loopback, 0);

        public Gates(int resumableChains = VerifiedChainCacheCapacity)
        {
            Root = TestCa.CreateRoot("acme.corp");
            Intermediate = Root.CreateIntermediate();
            ClientSvid = Svid(Intermediate.IssueLeaf(new() { Path = "/client" }));
            ServerSvid = Svid(Intermediate.IssueLeaf(new() { Path = "/server" }));
            ClientBundles = ServerBundles = BundleSet.Empty.With(Root.Bundle());
            ClientGate = new DirectTransport(new X509SvidVerifier(ClientClock), ClientClock);
            ServerGate = new DirectTransport(new X509SvidVerifier(ServerClock), ServerClock, acceptTunnels: true, resumableChains);
            _relay.Start();
            _server.Start();
        }

        private const int VerifiedChainCacheCapacity = Anchorage.Agent.Gate.Internal.VerifiedChainCache.DefaultCapacity;

        public TestCa Root { get; }

        public TestCa Intermediate { get; }

        public X509Svid ClientSvid { get; }

        public X509Svid ServerSvid { get; }

        public FakeTimeProvider ClientClock { get; } = TestClock.Create();

        public FakeTimeProvider ServerClock { get; } = TestClock.Create();

        public BundleSet ClientBundles { get; set; }

        public BundleSet ServerBundles { get; set; }

        public DirectTransport ClientGate { get; }

        public DirectTransport ServerGate { get; }

        public static X509Svid Svid(TestSvid svid) => new(svid.Chain, svid.Key);

        /// <summary>One connection: the client gate dials through the relay, the server gate accepts, one byte each way.</summary>
        public async Task<Attempt> ConnectAsync(Authorizer? authorizer = null, X509Svid? svid = null, X509Svid? serverSvid = null)
        {
            using var cts = new CancellationTokenSource(Deadline);
            var ct = cts.Token;
            var relayPort = ((IPEndPoint)_relay.LocalEndpoint).Port;
            var serverPort = ((IPEndPoint)_server.LocalEndpoint).Port;

            var relayAccept = _relay.AcceptSocketAsync(ct).AsTask();
            var serverAccept = _server.AcceptSocketAsync(ct).AsTask();
            var dial = ClientGate.DialAsync("c1", "127.0.0.1", relayPort, svid ?? ClientSvid, ClientBundles, authorizer ?? Authorizer.Exact(ServerId), Caller, ct);

            using var inbound = await relayAccept;
            using var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await outbound.ConnectAsync(IPAddress.Loopback, serverPort, ct);
            var up = PumpAsync(inbound, outbound, ct);
            var down = PumpAsync(outbound, inbound, ct);
            using var accepted = await serverAccept;
            var accept = ServerGate.AcceptAsync(accepted, serverSvid ?? ServerSvid, ServerBundles, ct);

            var clientSide = ClientSideAsync(dial, ct);
            var serverSide = ServerSideAsync(accept, ct);
            // The listener's loop owns an accepted socket: closed when the server side is done with it.
            var (server, serverExchanged) = await serverSide;
            accepted.Dispose();
            var (client, clientExchanged) = await clientSide;
            var sent = await Task.WhenAll(up, down);
            return new Attempt(client, server, clientExchanged && serverExchanged, sent[0], sent[1]);
        }

        /// <summary>
        /// A full handshake has the server send its certificates; a resumed one does not, so the
        /// server sent at least its chain's length less than on <paramref name="full"/>. (The
        /// client's side does not shrink as much: its ClientHello carries the session ticket, which
        /// holds the client's leaf.)
        /// </summary>
        public void AssertResumed(Attempt full, Attempt attempt)
        {
            var serverChain = ServerSvid.Certificates.Sum(c => c.RawData.Length);
            Assert.True(attempt.ServerSent <= full.ServerSent - serverChain, $"the server sent {attempt.ServerSent} bytes, {full.ServerSent} on the full handshake; its chain is {serverChain}");
        }

        /// <summary>The server sent its certificates again: more than <paramref name="full"/> less its chain's length.</summary>
        public void AssertNotResumed(Attempt full, Attempt attempt)
        {
            var serverChain = ServerSvid.Certificates.Sum(c => c.RawData.Length);
            Assert.True(attempt.ServerSent > full.ServerSent - serverChain, $"the server sent {attempt.ServerSent} bytes, {full.ServerSent} on the full handshake; its chain is {serverChain}");
        }

        public async ValueTask DisposeAsync()
        {
            _relay.Stop();
            _server.Stop();
            _relay.Dispose();
            _server.Dispose();
            await ValueTask.CompletedTask;
        }

        private static async Task<(TransportResult Result, bool Exchanged)> ClientSideAsync(Task<TransportResult> dial, CancellationToken ct)
        {
            var result = await dial;
            if (result.Channel is not { } channel)
            {
                return (result, false);
            }

            try
            {
                await channel.Stream.WriteAsync("p"u8.ToArray(), ct);
                await channel.Stream.FlushAsync(ct);
                var reply = new byte[1];
                return (result, await channel.Stream.ReadAsync(reply, ct) == 1 && reply[0] == (byte)'q');
            }
            catch (IOException)
            {
                return (result, false);
            }
            finally
            {
                await channel.DisposeAsync();
            }
        }

        private static async Task<(TransportResult Result, bool Exchanged)> ServerSideAsync(Task<TransportResult> accept, CancellationToken ct)
        {
            var result = await accept;
            if (result.Channel is not { } channel)
            {
                return (result, false);
            }

            try
            {
                var request = new byte[1];
                if (await channel.Stream.ReadAsync(request, ct) != 1)
                {
                    return (result, false);
                }

                await channel.Stream.WriteAsync("q"u8.ToArray(), ct);
                await channel.Stream.FlushAsync(ct);
                return (result, true);
            }
            catch (IOException)
            {
                return (result, false);
            }
            finally
            {
                await channel.DisposeAsync();
            }
        }

        /// <summary>Copies until the source ends or fails, then ends the destination's sending side; returns the bytes copied.</summary>
        private static async Task<long> PumpAsync(Socket from, Socket to, CancellationToken ct)
        {
            var buffer = new byte[16384];
            long total = 0;
            try
            {
                int n;
                while ((n = await from.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
                {
                    await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, ct);
                    total += n;
                }
            }
            catch (SocketException)
            {
            }

            try
            {
                to.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }

            return total;
        }
    }

    private sealed record Attempt(TransportResult Client, TransportResult Server, bool Exchanged, long ClientSent, long ServerSent)
    {
        public void AssertExchanged()
        {
            Assert.True(Exchanged, $"client: {Client.Reason} {Client.Detail}; server: {Server.Reason} {Server.Detail}");
        }

        /// <summary>The client gate refused the server: no channel, the reason says why.</summary>
        public void AssertClientRefused(string detail)
        {
            Assert.False(Exchanged);
            Assert.Null(Client.Channel);
            Assert.Equal(GateReasons.PeerVerification, Client.Reason);
            Assert.Equal(detail, Client.Detail);
        }

        /// <summary>The server gate refused the client: no channel there, and nothing came back to the client.</summary>
        public void AssertServerRefused(string detail)
        {
            Assert.False(Exchanged);
            Assert.Null(Server.Channel);
            Assert.Equal(GateReasons.PeerVerification, Server.Reason);
            Assert.Equal(detail, Server.Detail);
        }
    }
}
