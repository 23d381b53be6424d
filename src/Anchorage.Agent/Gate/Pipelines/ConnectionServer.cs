using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Connections;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Agent.Gate.Transport;
using Anchorage.Foundation.Audit;
using Anchorage.Policy;

namespace Anchorage.Agent.Gate.Pipelines;

/// <summary>How both pipelines end once a connection is allowed: audit the allow, register it live, splice, audit the close.</summary>
internal sealed class ConnectionServer(LiveConnectionRegistry registry, GateAudit audit)
{
    /// <summary>
    /// Serves <paramref name="connection"/> until both sides finish or the gate closes it;
    /// <paramref name="pending"/>, its deny record so far, is the template of its allow and close records.
    /// </summary>
    public async Task ServeAsync(GateConnection connection, AuditRecord pending, PolicyDecision decision, SocketEnd local, GateChannel remote)
    {
        using (connection)
        {
            var allowed = audit.Allowed(pending, decision);
            try
            {
                registry.Register(connection);
                await StreamSplicer.SpliceAsync(local, remote, connection.Sent, connection.Received, connection.Closing).ConfigureAwait(false);
            }
            finally
            {
                registry.Unregister(connection);
                await local.DisposeAsync().ConfigureAwait(false);
                audit.Closed(allowed, connection);
            }
        }
    }
}
