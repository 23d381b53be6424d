using System.Diagnostics;
using System.Globalization;
using System.Net;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Tls;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 11 item 3: the inbound gate attests the process listening on <c>forward</c> when the
/// client connects and dials <c>forward</c> only after the handshake and the policy. A process
/// that takes the port in between (the attested one closed its listener) must receive nothing:
/// the gate checks, on the real socket tables, that the attested process still owns every
/// listener there before forwarding a byte. The race is made deterministic by a seam that holds
/// the pipeline right before its dial; the check itself runs on the kernel's state.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateInboundRaceTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    // Binds the port in argv[1], says so, accepts one connection and prints how many bytes it got before EOF.
    private const string Rogue = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8)
        print('listening', flush=True)
        s.settimeout(30)
        c, _ = s.accept(); c.settimeout(30)
        got = 0
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                got += len(d)
        except OSError:
            pass
        print(got, flush=True)
        """;

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Inbound_RogueBindsForwardPortAfterAttestation_RefusedNothingForwarded_AttestedListenerServed()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var client = await domains.WorkloadAsync(AcmeTd, "/web", PaymentsTd);
        var app = new PlainEchoServer();
        var port = app.Port;
        Func<Task> seam = () => Task.CompletedTask;
        await using var node = await GateNode.StartAsync(
            domains,
            PaymentsTd,
            [new GateEntry("/api", [Uid, "unix:path:" + GateClients.OwnExe], AcmeTd)],
            _ => new GateOptions { Inbound = [new GateInboundOptions { Name = "api", Listen = new HostPort("127.0.0.1", 0), Forward = new HostPort("127.0.0.1", port) }] },
            new MutablePolicySource(Anchorage.Policy.CompiledPolicy.DenyAll),
            beforeForwardDial: () => Volatile.Read(ref seam)());
        var endpoint = (IPEndPoint)node.Gate.Endpoints["api"];
        node.Policy.Set(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api, endpoint.Port)));
        var options = SpiffeTls.MtlsClient(client.Source, client.Source, Authorizer.Exact(Api));

        // Positive control: the attested listener is still there when the gate dials.
        await using (var tls = await GateScenarioTests.DialAsync(endpoint, options))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(tls, "ping"));
        }

        Assert.Equal(1, app.Accepted);
        await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the control's allow");

        // The attack: between the attestation and the dial, the app closes its listener and a rogue binds the port.
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref seam, async () =>
        {
            reached.TrySetResult();
            await go.Task;
        });
        var victim = Task.Run(async () =>
        {
            await using var tls = await GateScenarioTests.DialAsync(endpoint, options);
            await tls.WriteAsync("secret"u8.ToArray());
            return await GateClients.ClosedAsync(tls);
        });
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await app.DisposeAsync();
        using var rogue = StartRogue(port);
        Assert.Equal("listening", await rogue.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        go.SetResult();

        Assert.True(await victim);
        var refused = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the refusal");
        Assert.Equal(GateReasons.ForwardOwnerChanged, refused.Reason);
        Assert.Equal(
            $"a socket listening on 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)} is not held by process {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}, which was attested",
            refused.Detail);
        Assert.Equal(Web.ToString(), refused.PeerSpiffeId);
        Assert.Equal(Environment.ProcessId, refused.Process!.Pid);

        // The rogue was dialed (its queue held the connection) but received not one byte.
        Assert.Equal("0", await rogue.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        await rogue.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Single(node.Audit.Records, r => r is { Kind: AuditKinds.Connection, Decision: "allow" });
    }

    private static Process StartRogue(int port)
    {
        var start = new ProcessStartInfo(GateClients.PythonExe) { RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Rogue);
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        return Process.Start(start)!;
    }
}
