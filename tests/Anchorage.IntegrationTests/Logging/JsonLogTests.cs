using System.Runtime.Versioning;
using System.Text.Json;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Logging;

/// <summary>
/// <c>logging: { format: json }</c> on a real <c>anchorage server run</c>: every line of its output
/// is one JSON object with the event id (and name), and none carries key material or the join token.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JsonLogTests
{
    [Fact]
    public async Task ServerRun_JsonFormat_EveryLineOneObjectWithEventIdAndNoSecret()
    {
        using var dir = new TempDir();
        var socket = Path.Combine(dir.Path, "admin.sock");
        var config = Path.Combine(dir.Path, "server.yaml");
        await File.WriteAllTextAsync(config, $"""
            trustDomain: acme.corp
            dataDir: {dir.Path}
            adminUids: [{TestServer.OwnUid()}]
            listen:
              agentApi: 127.0.0.1:0
              health: 127.0.0.1:0
            logging:
              format: json
            """);
        using var server = await ServerProcess.StartAsync(config);
        await server.WaitHealthyAsync(socket, TimeSpan.FromSeconds(60));
        var token = await TestServer.RunCliAsync("token", "generate", "--socket", socket);
        Assert.Equal(0, token.ExitCode);
        var created = await TestServer.RunCliAsync("entry", "create", "--spiffe-id", "spiffe://acme.corp/web", "--parent-id", "spiffe://acme.corp/node", "--selector", "unix:uid:1000", "--socket", socket);
        Assert.Equal(0, created.ExitCode);

        // The entry's creation event (3200) is logged after the call returns: await it, bounded.
        var deadline = TimeProvider.System.GetUtcNow() + TimeSpan.FromSeconds(30);
        while (!server.Output.Contains("\"eventId\":3200", StringComparison.Ordinal) && TimeProvider.System.GetUtcNow() < deadline)
        {
            await Task.Delay(50);
        }

        var lines = server.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("\"eventId\":3200", StringComparison.Ordinal));
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            Assert.True(root.GetProperty("eventId").GetInt32() >= 0, line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("level").GetString()), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("category").GetString()), line);
            Assert.True(root.TryGetProperty("message", out _), line);
        }

        // Anchorage's own events are source-generated: they carry their name too.
        Assert.Contains(lines, l => l.StartsWith("{\"time\":", StringComparison.Ordinal) && l.Contains("\"category\":\"Anchorage.", StringComparison.Ordinal) && l.Contains("\"event\":\"", StringComparison.Ordinal));

        var secret = token.Out.Trim().Split('.')[1];
        Assert.DoesNotContain(secret, server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", server.Output, StringComparison.Ordinal);
    }
}
