using Anchorage.Agent.Attestation;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.Hosting.Audit;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Microsoft.Extensions.Logging;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>One workload entry for <see cref="GateNode"/>.</summary>
internal sealed record GateEntry(string Path, string[] Selectors, params TrustDomain[] FederatesWith);

/// <summary>
/// A node of one of <see cref="TwoDomains"/>: a real agent (composed by AgentApp) with the given
/// entries, and a <see cref="GateHost"/> on its cache and a real <see cref="UnixWorkloadAttestor"/>,
/// a policy the test sets and an audit sink that keeps the records.
/// </summary>
internal sealed class GateNode : IAsyncDisposable
{
    private readonly AuditLog _log;
    private DenySummarizer? _summarizer;
    private int _disposed;

    private GateNode(TestAgent agent, GateHost gate, MutablePolicySource policy, CollectingAuditSink audit, AuditLog log, TempDir dir)
    {
        _log = log;
        Agent = agent;
        Gate = gate;
        Policy = policy;
        Audit = audit;
        Dir = dir;
    }

    public TestAgent Agent { get; }

    public GateHost Gate { get; }

    public MutablePolicySource Policy { get; }

    public CollectingAuditSink Audit { get; }

    public TempDir Dir { get; }

    /// <summary>What the gate was started with (to start another gate on the same agent).</summary>
    public GateSetup Setup { get; private init; } = null!;

    /// <summary>A unix socket path for an outbound listener, in a directory every uid may traverse.</summary>
    public static string SocketPath(TempDir dir, string name)
    {
        var folder = Path.Combine(dir.Path, "out");
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
        }

        return Path.Combine(folder, name + ".sock");
    }

    /// <summary>
    /// The inbound scenario the federation tests share: a payments.acme.corp node whose entry
    /// <c>/api</c> (this test host: its uid and executable) federates with acme.corp, one inbound
    /// listener <c>api</c> forwarding to <paramref name="app"/>, and a policy that allows
    /// <c>spiffe://acme.corp/web</c> to <c>/api</c> on that listener's port only.
    /// </summary>
    public static async Task<GateNode> StartInboundApiAsync(TwoDomains domains, PlainEchoServer app)
    {
        var uid = "unix:uid:" + TestServer.OwnUid().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var policy = new MutablePolicySource(Anchorage.Policy.CompiledPolicy.DenyAll);
        var node = await StartAsync(
            domains,
            TwoDomains.PaymentsTd,
            [new GateEntry("/api", [uid, "unix:path:" + GateClients.OwnExe], TwoDomains.AcmeTd)],
            _ => new GateOptions { Inbound = [new GateInboundOptions { Name = "api", Listen = new HostPort("127.0.0.1", 0), Forward = new HostPort("127.0.0.1", app.Port) }] },
            policy);
        var port = ((System.Net.IPEndPoint)node.Gate.Endpoints["api"]).Port;
        policy.Set(Policies.Of("v1", Policies.Allow(
            "web-to-api", SpiffeId.Parse("spiffe://acme.corp/web"), SpiffeId.Parse("spiffe://payments.acme.corp/api"), port)));
        return node;
    }

    /// <summary>Starts an agent of <paramref name="td"/> holding <paramref name="entries"/> (waits for their SVIDs and federated bundles), then the gate.</summary>
    public static async Task<GateNode> StartAsync(
        TwoDomains domains, TrustDomain td, GateEntry[] entries, Func<TempDir, GateOptions> gate, MutablePolicySource policy,
        Anchorage.Agent.Hosting.ConnectionAttributor? attribution = null, Func<Task>? beforeForwardDial = null, bool summarizeDenials = false)
    {
        var server = domains.Of(td);
        var (token, agentId) = await TestAgent.TokenAsync(server);
        foreach (var entry in entries)
        {
            await NodeParts.EntryAsync(server, agentId, entry.Path, entry.Selectors, entry.FederatesWith);
        }

        var agent = await TestAgent.StartAsync(server, token, o => o with { TrustDomain = td });
        var dir = new TempDir();
        try
        {
            var federated = entries.SelectMany(e => e.FederatesWith).Distinct().ToArray();
            await TwoDomains.UntilAsync(
                () => agent.Agent.Cache.SvidCount == entries.Length && federated.All(f => agent.Agent.Cache.State.Federated.ContainsKey(f)),
                "the agent's svids and federated bundles");
            var audit = new CollectingAuditSink();
            var log = new AuditLog(new AuditOptions { File = Path.Combine(dir.Path, "audit.jsonl") });
            IAuditSink sink = new TeeAuditSink(audit, log);

            // As the agent composes the gate (GateRuntime), with a short window and allowance.
            var summarizer = summarizeDenials ? new DenySummarizer(sink, TimeProvider.System, perWindow: 5, window: TimeSpan.FromSeconds(1)) : null;
            var setup = new GateSetup
            {
                Cache = agent.Agent.Cache,
                Attestor = new UnixWorkloadAttestor(),
                Attribution = attribution ?? Anchorage.Agent.Hosting.ConnectionAttributor.FallbackOnly,
                Policy = policy,
                Audit = new UsageAuditSink(summarizer ?? sink, agent.Agent.Usage!), // observed use, as GateRuntime counts it
                BeforeForwardDial = beforeForwardDial,
                AgentSvid = () => agent.Agent.Session.Svid,
                LoggerFactory = Environment.GetEnvironmentVariable("ANCHORAGE_TEST_GATE_LOG") is null
                    ? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance
                    : Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Trace)),
            };
            var host = GateHost.Start(gate(dir), setup);
            return new GateNode(agent, host, policy, audit, log, dir) { Setup = setup, _summarizer = summarizer };
        }
        catch
        {
            dir.Dispose();
            await agent.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the gate, flushes the real audit log (AuditLog) and returns its lines.</summary>
    public async Task<string[]> AuditFileLinesAsync()
    {
        await Gate.DisposeAsync();
        await _log.DisposeAsync();
        return await File.ReadAllLinesAsync(Path.Combine(Dir.Path, "audit.jsonl"));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Gate.DisposeAsync();
        _summarizer?.Dispose();
        await _log.DisposeAsync();
        await Agent.DisposeAsync();
        Dir.Dispose();
    }

    private sealed class TeeAuditSink(IAuditSink first, IAuditSink second) : IAuditSink
    {
        public void Write(AuditRecord record)
        {
            first.Write(record);
            second.Write(record);
        }
    }
}
