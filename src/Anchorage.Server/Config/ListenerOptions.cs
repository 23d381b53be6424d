using Anchorage.Foundation.Config;

namespace Anchorage.Server.Config;

/// <summary><c>listen:</c> where the server accepts connections.</summary>
public sealed record ListenerOptions
{
    /// <summary>The default of <see cref="AgentApi"/>: <c>127.0.0.1:8081</c>.</summary>
    public static readonly HostPort DefaultAgentApi = new("127.0.0.1", 8081);

    /// <summary>The default of <see cref="Health"/>: <c>127.0.0.1:8080</c>.</summary>
    public static readonly HostPort DefaultHealth = new("127.0.0.1", 8080);

    /// <summary>The agent API: gRPC over mutual TLS. Default <c>127.0.0.1:8081</c>.</summary>
    public HostPort AgentApi { get; init; } = DefaultAgentApi;

    /// <summary>The admin API's unix socket (gRPC, no TLS, callers checked by uid). Null means <c>&lt;dataDir&gt;/admin.sock</c>.</summary>
    public string? AdminSocket { get; init; }

    /// <summary>Plain HTTP/1.1 for <c>/live</c>, <c>/ready</c> and <c>/metrics</c>. Default <c>127.0.0.1:8080</c>.</summary>
    public HostPort Health { get; init; } = DefaultHealth;
}
