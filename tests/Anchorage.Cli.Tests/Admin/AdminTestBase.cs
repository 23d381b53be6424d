namespace Anchorage.Cli.Tests.Admin;

/// <summary>A test class talking to its own <see cref="AdminServer"/>; runs verbs with <c>--socket</c> set.</summary>
public abstract class AdminTestBase : IAsyncLifetime
{
    private AdminServer? _server;

    protected AdminServer Server => _server ?? throw new InvalidOperationException("the server is not started");

    protected FakeAdminApi Api => Server.Api;

    public async Task InitializeAsync() => _server = await AdminServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Runs <c>anchorage ARGS --socket SERVER</c> in-process.</summary>
    protected Task<CliResult> RunAsync(params string[] args) => CliRunner.RunAsync(TimeProvider.System, [.. args, "--socket", Server.SocketPath]);
}
