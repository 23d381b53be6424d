using System.Net;
using System.Net.Sockets;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Workload;
using Anchorage.Testing.Logging;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// The agent's start while its server cannot be reached: it retries with backoff and never dies
/// on a failed first call (issue 17: an agent started before a busy server exited with 134 on an
/// unhandled <c>RpcException (Cancelled)</c> from the channel's connect timeout).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AgentStartupTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Start_FirstServerConnectTimesOut_RetriesAndServesOnceTheServerAnswers()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        await using var front = StalledFront.Open(new IPEndPoint(IPAddress.Loopback, server.Server.Host.AgentApiEndpoint.Port));
        using var capture = new LogCapture(LogLevel.Trace);
        var loggers = capture.Factory;

        var starting = TestAgent.StartAsync(server, token, o => o with { ServerAddress = new HostPort("127.0.0.1", front.Port) }, loggers);

        // The first handshake gets no answer until the channel's connect timeout: a Cancelled call, not a crash.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45)))
        {
            while (!capture.Lines.Any(l => l.Contains("[2201]", StringComparison.Ordinal) && l.Contains("Cancelled", StringComparison.Ordinal)))
            {
                Assert.False(starting.IsCompleted, "the agent's start ended before the server answered: " + starting.Exception?.GetBaseException().Message);
                Assert.False(timeout.IsCancellationRequested, "no Cancelled start-up failure logged; the log:\n" + string.Join('\n', capture.Lines));
                await Task.Delay(100, CancellationToken.None);
            }
        }

        Assert.False(starting.IsCompleted);

        // Positive control: once the front forwards, the same start attests and serves.
        front.Forward();
        await using var agent = await starting;
        using var call = agent.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("spiffe://acme.corp/me", Assert.Single(call.ResponseStream.Current.Svids).SpiffeId);
    }

    /// <summary>
    /// A loopback TCP front that accepts connections and never answers them (a server too busy to
    /// complete a TLS handshake) until <see cref="Forward"/>, after which it relays every new
    /// connection to the target.
    /// </summary>
    private sealed class StalledFront : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly IPEndPoint _target;
        private readonly List<Socket> _held = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private volatile bool _forwarding;

        private StalledFront(Socket listener, IPEndPoint target)
        {
            _listener = listener;
            _target = target;
            _accepting = AcceptAsync(_stop.Token);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public static StalledFront Open(IPEndPoint target)
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(16);
            return new StalledFront(listener, target);
        }

        public void Forward()
        {
            _forwarding = true;
            lock (_held)
            {
                foreach (var socket in _held)
                {
                    socket.Dispose();
                }

                _held.Clear();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            Forward();
            try
            {
                await _accepting;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync(CancellationToken cancellationToken)
        {
            var pairs = new List<Task>();
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var client = await _listener.AcceptAsync(cancellationToken);
                    if (_forwarding)
                    {
                        pairs.Add(PairAsync(client, cancellationToken));
                        continue;
                    }

                    lock (_held)
                    {
                        _held.Add(client);
                    }
                }
            }
            finally
            {
                await Task.WhenAll(pairs);
            }
        }

        private async Task PairAsync(Socket client, CancellationToken cancellationToken)
        {
            using (client)
            using (var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                try
                {
                    await upstream.ConnectAsync(_target, cancellationToken);
                    await using var a = new NetworkStream(client);
                    await using var b = new NetworkStream(upstream);
                    await Task.WhenAny(a.CopyToAsync(b, cancellationToken), b.CopyToAsync(a, cancellationToken));
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
                {
                }
            }
        }
    }
}
