using System.Net.Sockets;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Testing.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Hosting;

/// <summary>
/// Kestrel's real socket transport on a unix socket, with the descriptor budget checked in the
/// accept loop: a connection accepted while the budget is exhausted is closed there and never
/// handed to Kestrel; the next one, once there is room, is.
/// </summary>
public sealed class BudgetedListenerFactoryTests
{
    [Fact]
    public async Task Accept_BudgetExhausted_ClosedInTheAcceptLoop_NextConnectionWithRoomIsHandedOver()
    {
        using var socket = new TempSocket();
        var time = new FakeTimeProvider();
        var open = 990L; // limit 1000: under the reserve of 64, nothing is admitted
        var budget = new DescriptorBudget(time, () => open, () => 1000);
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance);
        await using var listener = await new BudgetedListenerFactory(transport, budget).BindAsync(new UnixDomainSocketEndPoint(socket.Path));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var accepted = listener.AcceptAsync(timeout.Token).AsTask();

        // Refused: the client's connection is closed by the agent without a byte, and nothing is handed over.
        using (var refused = await socket.ConnectAsync(timeout.Token))
        {
            var buffer = new byte[1];
            int read;
            try
            {
                read = await refused.ReceiveAsync(buffer, timeout.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                read = 0;
            }

            Assert.Equal(0, read);
            Assert.False(accepted.IsCompleted);
        }

        // Positive control on the same listener: room again (the next read), and the next connection is handed over.
        open = 10;
        time.Advance(DescriptorBudget.RefreshInterval);
        using var admitted = await socket.ConnectAsync(timeout.Token);
        await using var connection = await accepted;
        Assert.NotNull(connection);
        await admitted.SendAsync(new byte[] { 42 }, timeout.Token);
        var result = await connection!.Transport.Input.ReadAsync(timeout.Token);
        Assert.Equal(42, result.Buffer.FirstSpan[0]);
    }
}
