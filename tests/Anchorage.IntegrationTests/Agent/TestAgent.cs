using Anchorage.Agent;
using Anchorage.Agent.Config;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// An agent composed exactly as <c>anchorage agent run</c> composes it (<see cref="AgentApp"/>),
/// in-process, against a <see cref="TestServer"/>, with its sockets and state in a temp dir.
/// </summary>
internal sealed class TestAgent : IAsyncDisposable
{
    private readonly List<GrpcChannel> _channels = [];

    private TestAgent(TempDir dir, AgentOptions options, RunningAgent agent)
    {
        Dir = dir;
        Options = options;
        Agent = agent;
    }

    public TempDir Dir { get; }

    public AgentOptions Options { get; }

    public RunningAgent Agent { get; }

    public string Socket => Agent.Host.WorkloadSocketPath;

    /// <summary>The agent ID a fresh join token yields, so entries can be created before the agent starts.</summary>
    public static Task<(string Token, SpiffeId AgentId)> TokenAsync(TestServer server) => NodeParts.TokenAsync(server);

    public static async Task<TestAgent> StartAsync(
        TestServer server, string token, Func<AgentOptions, AgentOptions>? configure = null, ILoggerFactory? loggers = null)
    {
        var dir = new TempDir();
        try
        {
            var options = await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token);
            options = options with
            {
                SyncInterval = TimeSpan.FromSeconds(1),
                WorkloadApi = new WorkloadApiListenOptions { Socket = Path.Combine(dir.Path, "api.sock") },
                Listen = new AgentListenOptions { AdminSocket = Path.Combine(dir.Path, "admin.sock"), Health = new HostPort("127.0.0.1", 0) },
                AdminUids = [TestServer.OwnUid()],
            };
            options = configure?.Invoke(options) ?? options;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var agent = await AgentApp.StartAsync(options, loggers ?? NullLoggerFactory.Instance, TimeProvider.System, timeout.Token);
            return new TestAgent(dir, options, agent);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>A Workload API client over the agent's unix socket; every call carries the security header.</summary>
    public SpiffeWorkloadAPI.SpiffeWorkloadAPIClient Client()
    {
        var channel = TestServer.AdminChannel(Socket);
        _channels.Add(channel);
        return new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
    }

    public static Metadata Header { get; } = new() { { "workload.spiffe.io", "true" } };

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await Agent.DisposeAsync();
        Dir.Dispose();
    }
}
