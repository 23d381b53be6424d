using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Attestation.Internal;
using Anchorage.Agent.Config;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Agent.Kernel;
using Anchorage.Agent.Kernel.Internal;
using Anchorage.Agent.Node;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Hosting;

/// <summary>
/// Finds the process that opened an accepted connection, once, when it is accepted: from the
/// facts the agent's eBPF programs recorded at <c>connect()</c> when there is a record
/// (<see cref="AttributionMode.Kernel"/>, O(1) per connection), else from user space with the
/// fallback checks (<see cref="AttributionMode.Fallback"/>). Used by the Workload API and the gate.
/// </summary>
/// <remarks>
/// A connection from a process outside the attributed cgroups, or opened before the programs
/// were attached, has no record: with <see cref="RequireRecord"/> it gets no peer, otherwise the
/// fallback decides it, and the peer's <see cref="PeerProcess.Mode"/> says which did.
/// </remarks>
public sealed class ConnectionAttributor : IDisposable
{
    private readonly KernelAttribution? _kernel;

    /// <param name="kernel">The loaded programs, or null to attribute in user space only.</param>
    /// <param name="requireRecord">True: refuse connections the programs did not record.</param>
    public ConnectionAttributor(KernelAttribution? kernel, bool requireRecord)
    {
        _kernel = kernel;
        RequireRecord = requireRecord && kernel is not null;
    }

    /// <summary>An attributor with no eBPF programs: every connection is decided by the fallback.</summary>
    public static ConnectionAttributor FallbackOnly { get; } = new(null, requireRecord: false);

    /// <summary>
    /// Probes and loads the eBPF programs as <paramref name="options"/> say, and logs once which
    /// mode the agent runs in and why. The environment variable
    /// <see cref="KernelAttributionOptions.ForceOffVariable"/>=<c>off</c> forces the fallback.
    /// </summary>
    /// <param name="options">attestation.kernel.</param>
    /// <param name="logger">Where the mode is logged.</param>
    /// <param name="objectPath">The BPF object; default <see cref="KernelAttribution.DefaultObjectPath"/>.</param>
    /// <exception cref="AgentStartException">Mode <c>required</c> and the programs cannot be used.</exception>
    public static ConnectionAttributor Start(KernelAttributionOptions options, ILogger logger, string? objectPath = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (string.Equals(Environment.GetEnvironmentVariable(KernelAttributionOptions.ForceOffVariable), "off", StringComparison.Ordinal))
        {
            AgentHostingLog.AttributionFallback(logger, KernelAttributionOptions.ForceOffVariable + "=off");
            return FallbackOnly;
        }

        if (options.Mode == KernelAttributionMode.Off)
        {
            AgentHostingLog.AttributionFallback(logger, "attestation.kernel.mode is off");
            return FallbackOnly;
        }

        if (options.Cgroups.Count == 0)
        {
            AgentHostingLog.AttributionFallback(logger, "attestation.kernel.cgroups is empty");
            return FallbackOnly;
        }

        KernelAttribution kernel;
        try
        {
            kernel = KernelAttribution.Load(objectPath ?? KernelAttribution.DefaultObjectPath, options.Cgroups);
        }
        catch (KernelAttributionException e)
        {
            if (options.Mode == KernelAttributionMode.Required)
            {
                throw new AgentStartException("attestation.kernel.mode is required but the eBPF programs cannot be used: " + e.Message);
            }

            AgentHostingLog.AttributionFallback(logger, e.Message);
            return FallbackOnly;
        }

        var required = options.Mode == KernelAttributionMode.Required;
        var cgroups = string.Join(", ", options.Cgroups);
        AgentHostingLog.AttributionKernel(logger, cgroups, required ? "refused" : "fallback");
        return new ConnectionAttributor(kernel, required);
    }

    /// <summary>Kernel when the eBPF programs are attached, else Fallback.</summary>
    public AttributionMode Mode => _kernel is null ? AttributionMode.Fallback : AttributionMode.Kernel;

    /// <summary>True when connections without a connect-time record get no peer.</summary>
    public bool RequireRecord { get; }

    /// <summary>The cgroups whose processes the programs record (empty in fallback mode).</summary>
    public IReadOnlyList<string> Cgroups => _kernel?.Cgroups ?? [];

    /// <summary>When process <paramref name="processId"/> last exec'd (ns since boot), if the programs saw it.</summary>
    public ulong? LastExecNs(int processId) => _kernel?.LastExecNs(processId);

    /// <summary>The process at the other end of an accepted unix socket.</summary>
    /// <exception cref="WorkloadAttestationException">No process can be given the connection; the message says why.</exception>
    public PeerProcess AttributeUnix(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var peer = PeerCredentialsReader.Read(socket);
        try
        {
            // The accepted socket belongs to the CLIENT's network namespace (the kernel creates it
            // there); UnixSockDiag asks from that namespace when it is not the agent's. Socket
            // inodes are global, so the record and the sole-holder scan work across namespaces.
            var clientInode = ReadPeerInode(socket);
            if (clientInode is { } inode && _kernel is not null && _kernel.TryTakeUnix(inode, out var facts))
            {
                return Alive(PeerCredentialsReader.WithFacts(peer, facts));
            }

            if (RequireRecord)
            {
                throw NoRecord();
            }

            return FallbackChecks.Pin(peer, peer.UserId, peer.GroupId, clientInode);
        }
        catch
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>The process at the other end of a TCP connection accepted on <paramref name="server"/> from <paramref name="client"/>.</summary>
    /// <exception cref="WorkloadAttestationException">No process can be given the connection; the message says why.</exception>
    public PeerProcess AttributeTcp(IPEndPoint server, IPEndPoint client)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(client);
        if (_kernel is not null && _kernel.TryTakeTcp(client, server, out var facts))
        {
            ThrowIfExited(facts);
            return Alive(PeerCredentialsReader.FromFacts(facts));
        }

        if (RequireRecord)
        {
            throw NoRecord();
        }

        return TcpPeerLocator.Locate(server, client);
    }

    /// <summary>Detaches the programs.</summary>
    public void Dispose() => _kernel?.Dispose();

    /// <summary>The message when the process a connect-time record names has exited (PID churn).</summary>
    internal static string ConnectorExited(int processId) => PeerCredentialsReader.ExitedAfterConnect(processId).Message;

    // PID churn: the connector exited and a newcomer took its pid. The start time in /proc has
    // clock-tick resolution, so a newcomer started within the same tick would pass the pidfd
    // check; the kernel's exit note has the exact start time. Checked before the pidfd is opened
    // and again after (an exit in between is then seen either way).
    private void ThrowIfExited(in ConnectFacts facts)
    {
        if (_kernel!.HasExited(facts))
        {
            throw new WorkloadAttestationException(ConnectorExited(facts.ProcessId));
        }
    }

    private PeerProcess Alive(PeerProcess peer)
    {
        if (peer.ConnectFacts is { } facts && _kernel!.HasExited(facts))
        {
            peer.Dispose();
            throw new WorkloadAttestationException(ConnectorExited(facts.ProcessId));
        }

        return peer;
    }

    // Null when the peer socket is gone (the pidfd checks that follow notice its process's exit);
    // the sole-holder check is then left out, as FallbackChecks.Pin says.
    private static ulong? ReadPeerInode(Socket socket)
    {
        try
        {
            return UnixSockDiag.PeerInode(socket);
        }
        catch (IOException e)
        {
            throw new WorkloadAttestationException("cannot read the peer socket (sock_diag): " + e.Message, e);
        }
    }

    private static WorkloadAttestationException NoRecord() =>
        new("no connect-time record for this connection (the process is outside the attributed cgroups)");
}
