using Anchorage.Agent.Attestation;
using Anchorage.Foundation.Selectors;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// The impersonation attacks of issue 10 against the real Workload API, each with a positive
/// control on the same fixture, in both attribution modes: kernel (eBPF records, unrecorded
/// connections refused) and fallback (user space only).
/// </summary>
[Trait("Category", "Slow")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WorkloadApiAttackTests
{
    [KernelTheory]
    [InlineData(AttributionMode.Kernel)]
    [InlineData(AttributionMode.Fallback)]
    public async Task FetchX509Svid_ExecIntoVictimBinaryAfterConnect_Denied(AttributionMode mode)
    {
        await using var agent = await AttackAgent.StartAsync(mode, a => [new Selector("unix", "path:" + a.Web)]);

        // Positive control: the victim's binary connecting itself gets the identity.
        using (var victim = agent.Client(agent.Web, "unix:" + agent.Socket, "call"))
        {
            Assert.Equal("granted", await AttackAgent.LineAsync(victim));
        }

        // The attacker's binary connects, calls once (so the agent has surely accepted), then
        // exec's the victim's binary, which calls on the inherited connection.
        using var attacker = agent.Client(AttackAgent.Python, "unix:" + agent.Socket, "call", "exec:" + agent.Web, "call");
        Assert.Equal("denied", await AttackAgent.LineAsync(attacker));
        Assert.Equal("denied", await AttackAgent.LineAsync(attacker));
    }

    [KernelTheory]
    [InlineData(AttributionMode.Kernel)]
    [InlineData(AttributionMode.Fallback)]
    public async Task FetchX509Svid_TcpSocketRelayedToSetUidRootImage_DeniedRootIdentity(AttributionMode mode)
    {
        await using var agent = await AttackAgent.StartAsync(mode, _ => [new Selector("unix", "uid:0")]);

        // Positive control: root connecting over loopback TCP gets root's identity.
        using (var root = agent.Client(AttackAgent.Python, "tcp:" + agent.Tcp, "call"))
        {
            Assert.Equal("granted", await AttackAgent.LineAsync(root));
        }

        // nobody connects, then hands the connection to a setuid-root image (exec keeps it).
        using var relay = agent.Run(
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            AttackAgent.Python, agent.Script, "tcp:" + agent.Tcp, "exec:" + agent.SetUidPython, "ids", "call");
        Assert.Equal("ids 65534 0", await AttackAgent.LineAsync(relay));
        Assert.Equal("denied", await AttackAgent.LineAsync(relay));
        // Only the positive control was ever looked up as uid 0.
        Assert.Single(agent.Cache.Lookups, s => s.Contains(new Selector("unix", "uid:0")));
    }

    [KernelTheory]
    [InlineData(AttributionMode.Kernel)]
    [InlineData(AttributionMode.Fallback)]
    public async Task FetchX509Svid_SetUidRootImageConnectsItself_Denied(AttributionMode mode)
    {
        await using var agent = await AttackAgent.StartAsync(mode, _ => [new Selector("unix", "uid:0")]);

        using var setuid = agent.Run(
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            agent.SetUidPython, agent.Script, "ids", "unix:" + agent.Socket, "call");
        Assert.Equal("ids 65534 0", await AttackAgent.LineAsync(setuid));
        Assert.Equal("denied", await AttackAgent.LineAsync(setuid));

        // Positive control: root itself, with an ordinary (not setuid) python.
        using var root = agent.Client(AttackAgent.Python, "ids", "unix:" + agent.Socket, "call");
        Assert.Equal("ids 0 0", await AttackAgent.LineAsync(root));
        Assert.Equal("granted", await AttackAgent.LineAsync(root));
    }

    [KernelTheory]
    [InlineData(AttributionMode.Kernel)]
    [InlineData(AttributionMode.Fallback)]
    public async Task FetchX509Svid_OwnBinaryBindMountedOverVictimPathInOtherMountNamespace_Denied(AttributionMode mode)
    {
        await using var agent = await AttackAgent.StartAsync(mode, a => [new Selector("unix", "path:" + a.Web)]);

        using var spoof = agent.Run(
            "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
            $"mount --bind {agent.Evil} {agent.Web} && exec {agent.Web} {agent.Script} unix:{agent.Socket} call");
        Assert.Equal("denied", await AttackAgent.LineAsync(spoof));
        Assert.DoesNotContain(agent.Cache.Lookups, s => s.Contains(new Selector("unix", "path:" + agent.Web)));

        // Positive control: the real binary at that path, in the agent's mount namespace.
        using var victim = agent.Client(agent.Web, "unix:" + agent.Socket, "call");
        Assert.Equal("granted", await AttackAgent.LineAsync(victim));
    }

    [KernelTheory]
    [InlineData(AttributionMode.Kernel)]
    [InlineData(AttributionMode.Fallback)]
    public async Task FetchX509Svid_ChildInheritedSocketAfterConnectorExited_Denied(AttributionMode mode)
    {
        await using var agent = await AttackAgent.StartAsync(mode, a => [new Selector("unix", "path:" + a.Web)]);

        // Positive control on the same connection: the victim that connected is served; then it
        // forks, exits, and the child that inherited the connection calls.
        using var victim = agent.Client(agent.Web, "unix:" + agent.Socket, "call", "forkexit", "wait", "call");
        Assert.Equal("granted", await AttackAgent.LineAsync(victim));
        await victim.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await victim.StandardInput.WriteLineAsync("go");
        await victim.StandardInput.FlushAsync();
        Assert.Equal("denied", await AttackAgent.LineAsync(victim));
    }

    [KernelTheory]
    [InlineData(AttributionMode.Kernel)]
    [InlineData(AttributionMode.Fallback)]
    public async Task FetchX509Svid_ClientInOtherNetworkNamespace_GrantedWithItsOwnFacts(AttributionMode mode)
    {
        await using var agent = await AttackAgent.StartAsync(mode, a => [new Selector("unix", "path:" + a.Web)]);

        // The accepted socket lives in the client's network namespace; kernel mode refuses
        // unrecorded connections, so "granted" means the record was found across namespaces.
        using var victim = agent.Run("/usr/bin/unshare", "-n", agent.Web, agent.Script, "unix:" + agent.Socket, "call");
        Assert.Equal("granted", await AttackAgent.LineAsync(victim));

        using var other = agent.Run("/usr/bin/unshare", "-n", agent.Evil, agent.Script, "unix:" + agent.Socket, "call");
        Assert.Equal("denied", await AttackAgent.LineAsync(other));
    }

    [KernelFact]
    public async Task FetchX509Svid_TwoHoldersInOtherNetworkNamespace_DeniedInFallback()
    {
        await using var agent = await AttackAgent.StartAsync(AttributionMode.Fallback, a => [new Selector("unix", "path:" + a.Web)]);

        // Two processes of another network namespace hold the socket when it connects: the agent
        // can see both only by asking sock_diag from that namespace.
        using var shared = agent.Run("/usr/bin/unshare", "-n", agent.Web, agent.Script, "share", "unix:" + agent.Socket, "call");
        Assert.Equal("denied", await AttackAgent.LineAsync(shared));

        // Positive control on the same fixture: one holder in that namespace is served.
        using var alone = agent.Run("/usr/bin/unshare", "-n", agent.Web, agent.Script, "unix:" + agent.Socket, "call");
        Assert.Equal("granted", await AttackAgent.LineAsync(alone));
    }
}
