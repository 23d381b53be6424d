using System.Globalization;
using System.Net;
using Anchorage.Agent.Config;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// An acme gate whose unix listener <c>payments</c> tunnels (gate.tunnels) to a payments gate's
/// inbound listener <c>api</c>, which forwards to a local application; both allow web to api.
/// </summary>
internal sealed class GatePair : IAsyncDisposable
{
    public static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");

    public static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    private GatePair(GateNode inbound, GateNode outbound, string socket, int inboundPort)
    {
        InboundPort = inboundPort;
        Inbound = inbound;
        Outbound = outbound;
        Socket = socket;
    }

    public GateNode Inbound { get; }

    public GateNode Outbound { get; }

    public string Socket { get; }

    public int InboundPort { get; }

    public static async Task<GatePair> StartAsync(TwoDomains domains, int appPort)
    {
        var inbound = await GateNode.StartAsync(
            domains,
            PaymentsTd,
            [new GateEntry("/api", [Uid, "unix:path:" + GateClients.OwnExe], AcmeTd)],
            _ => new GateOptions { Inbound = [new GateInboundOptions { Name = "api", Listen = new HostPort("127.0.0.1", 0), Forward = new HostPort("127.0.0.1", appPort) }] },
            new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api))));
        try
        {
            var port = ((IPEndPoint)inbound.Gate.Endpoints["api"]).Port;
            string socket = null!;
            var outbound = await GateNode.StartAsync(
                domains,
                AcmeTd,
                [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)],
                dir => new GateOptions
                {
                    Tunnels = true,
                    Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", port), Peer = Api }],
                },
                new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api))));
            return new GatePair(inbound, outbound, socket, port);
        }
        catch
        {
            await inbound.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Outbound.DisposeAsync();
        await Inbound.DisposeAsync();
    }
}
