using Anchorage.Foundation.Config;

namespace Anchorage.Agent.Config;

/// <summary>
/// Transparent interception (<c>gate.transparent</c>): processes in <see cref="Cgroups"/> that
/// connect to one of <see cref="Destinations"/> are redirected in the kernel to the gate's
/// <see cref="Listen"/> address; the application is unmodified and talks plain text as before.
/// Connections arriving for an <see cref="Inbound"/> port are steered to the gate, which verifies
/// the client's SVID before forwarding to the service.
/// </summary>
public sealed record GateTransparentOptions
{
    /// <summary>The default listener: <c>127.0.0.1:15006</c>.</summary>
    public static readonly HostPort DefaultListen = new("127.0.0.1", 15006);

    /// <summary>The default bpffs directory the programs are pinned in under <see cref="TransparentFailMode.Closed"/>.</summary>
    public const string DefaultPinDirectory = "/sys/fs/bpf/anchorage/transparent";

    /// <summary>Where redirected connections arrive (<c>listen</c>): an IPv4 loopback address.</summary>
    public HostPort Listen { get; init; } = DefaultListen;

    /// <summary>What intercepted connections get while the agent is down (<c>failMode</c>, default closed).</summary>
    public TransparentFailMode FailMode { get; init; } = TransparentFailMode.Closed;

    /// <summary>The cgroup v2 directories whose processes are intercepted (<c>cgroups</c>); empty when <see cref="AllCgroups"/>.</summary>
    public IReadOnlyList<string> Cgroups { get; init; } = [];

    /// <summary><c>cgroups: all</c>: every process but the agent (the programs attach to the root cgroup).</summary>
    public bool AllCgroups { get; init; }

    /// <summary>The intercepted destinations (<c>destinations</c>), matched in order.</summary>
    public IReadOnlyList<GateTransparentDestination> Destinations { get; init; } = [];

    /// <summary>The steered service ports (<c>inbound</c>, sk_lookup in the agent's network namespace).</summary>
    public IReadOnlyList<GateTransparentInbound> Inbound { get; init; } = [];

    /// <summary>The bpffs directory of the pinned programs (<c>pinDir</c>) under <see cref="TransparentFailMode.Closed"/>.</summary>
    public string PinDirectory { get; init; } = DefaultPinDirectory;
}
