using Anchorage.Foundation.Config;

namespace Anchorage.Agent.Config;

/// <summary>
/// One steered service port (<c>gate.transparent.inbound[]</c>): TCP connections arriving for
/// <see cref="Port"/> on any local IPv4 address are handed by the kernel (<c>sk_lookup</c>) to the
/// gate instead of the service, which keeps listening on its port; the gate terminates mTLS with
/// the SVID of the process listening on <see cref="Forward"/>, decides, and forwards allowed
/// connections to it in plain text.
/// </summary>
public sealed record GateTransparentInbound
{
    /// <summary>The entry's name, unique among gate listeners and destinations; audit records carry it.</summary>
    public required string Name { get; init; }

    /// <summary>The steered local port (<c>port</c>).</summary>
    public required int Port { get; init; }

    /// <summary>Where the service listens (<c>forward</c>, loopback; default <c>127.0.0.1:PORT</c>).</summary>
    public required HostPort Forward { get; init; }
}
