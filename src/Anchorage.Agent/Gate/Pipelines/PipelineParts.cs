using System.Globalization;
using Anchorage.Agent.Gate.Attribution;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Transport;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>What the outbound and inbound pipelines share: the gate's parts, built once by <see cref="GateHost"/>.</summary>
internal sealed class PipelineParts
{
    private long _nextId;

    public required GateSetup Setup { get; init; }

    public required ConnectionAttribution Attribution { get; init; }

    /// <summary>Direct mTLS; inbound, it hands tunnels to <see cref="Tunnels"/>.</summary>
    public required IGateTransport Transport { get; init; }

    /// <summary>The gate's X.509-SVID verifier (the sending agent's chain of a tunnel's provenance hello).</summary>
    public required Anchorage.Spiffe.Svids.X509SvidVerifier Verifier { get; init; }

    /// <summary>Outbound tunnels, for listeners with <c>tunnels</c> (falls back to direct per peer).</summary>
    public required IGateTransport TunnelTransport { get; init; }

    /// <summary><c>gate.tunnels</c>: the default of outbound listeners that do not say.</summary>
    public required bool TunnelsByDefault { get; init; }

    public required ConnectionServer Server { get; init; }

    /// <summary>Serves the tunnels inbound listeners accept.</summary>
    public required Transport.Tunnels.TunnelServer Tunnels { get; init; }

    public required GateAudit Audit { get; init; }

    /// <summary>A connection id unique in this gate, for the audit trail.</summary>
    public string NextId() => "c" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);

    /// <summary>The sequence number of the bundle of <paramref name="trustDomain"/> the agent holds now.</summary>
    public long? BundleSequence(TrustDomain trustDomain)
    {
        var state = Setup.Cache.State;
        var bundle = state.OwnBundle?.TrustDomain == trustDomain ? state.OwnBundle : state.Federated.GetValueOrDefault(trustDomain);
        return bundle?.SequenceNumber is { } sequence ? (long)sequence : null;
    }
}
