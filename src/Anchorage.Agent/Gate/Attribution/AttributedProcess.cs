using Anchorage.Agent.Gate.Internal;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server;

namespace Anchorage.Agent.Gate.Attribution;

/// <summary>
/// The attested local process of a connection with its identity; owns the process (its pidfd)
/// until a live connection takes it.
/// </summary>
internal sealed class AttributedProcess(LocalProcess local, WorkloadIdentity identity, AuditRecord pending) : IDisposable
{
    private LocalProcess? _local = local;

    /// <summary>The process (still owned here until <see cref="Take"/>).</summary>
    public LocalProcess Local { get; } = local;

    public WorkloadIdentity Identity { get; } = identity;

    /// <summary>The SVID presented for the process: its default one.</summary>
    public X509Svid Svid => Identity.X509Svids[0];

    /// <summary>The connection's deny record with the process and its SPIFFE ID filled in.</summary>
    public AuditRecord Pending { get; } = pending;

    /// <summary>Hands the process over to a live connection, which disposes it.</summary>
    public LocalProcess Take()
    {
        var taken = _local ?? throw new InvalidOperationException("already taken");
        _local = null;
        return taken;
    }

    public void Dispose() => _local?.Dispose();
}
