using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Policy;
using Anchorage.Foundation.Audit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Agent.Gate;

/// <summary>
/// What a <see cref="GateHost"/> shares with the rest of the agent: the same identity cache,
/// attestor and bundles as the Workload API, so identity and enforcement cannot disagree.
/// </summary>
public sealed class GateSetup
{
    /// <summary>The agent's identity cache (SVIDs and the bundles each process may see).</summary>
    public required WorkloadCache Cache { get; init; }

    /// <summary>The agent's workload attestor.</summary>
    public required IWorkloadAttestor Attestor { get; init; }

    /// <summary>The policy connections are decided with.</summary>
    public required IPolicySource Policy { get; init; }

    /// <summary>Where audit records go.</summary>
    public required IAuditSink Audit { get; init; }

    /// <summary>The clock (audit times, durations, certificate validity).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Loggers (category <see cref="GateHost.LoggerCategory"/>).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// Finds the process behind each connection to an outbound listener (eBPF records or the
    /// fallback). Default <see cref="ConnectionAttributor.FallbackOnly"/>; not disposed by the gate.
    /// </summary>
    public ConnectionAttributor Attribution { get; init; } = ConnectionAttributor.FallbackOnly;

    /// <summary>
    /// The agent's own X.509-SVID (its key signs the origin statement of each tunnel stream,
    /// docs/gate-transport.md); null, or returning null: tunnels carry no provenance.
    /// </summary>
    public Func<Anchorage.Spiffe.Svids.X509Svid?>? AgentSvid { get; init; }

    /// <summary>How long dialing the target and each TLS handshake may take (default 10 s).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Test seam: awaited by the inbound pipeline right before it dials the forward address (to let a rogue take the port).</summary>
    internal Func<Task>? BeforeForwardDial { get; init; }

    /// <summary>The transparent-interception object; null: <c>bpf/transparent.bpf.o</c> beside the agent.</summary>
    public string? TransparentObjectPath { get; init; }
}
