using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Kestrel's transport with the <see cref="DescriptorBudget"/> checked in the accept loop itself:
/// a connection accepted while the agent is close to its descriptor limit is closed there, before
/// Kestrel hands it to the thread pool. Checked later (in connection middleware), a flood of
/// connects piled accepted sockets up in the thread pool's queue until the process ran out of
/// descriptors, and the runtime, unable to start a pool thread, ended the agent
/// (OutOfMemoryException in Thread.StartCore: thread creation needs a free descriptor).
/// </summary>
internal sealed class BudgetedListenerFactory(IConnectionListenerFactory inner, DescriptorBudget budget) : IConnectionListenerFactory
{
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new Listener(await inner.BindAsync(endpoint, cancellationToken).ConfigureAwait(false), budget);

    private sealed class Listener(IConnectionListener inner, DescriptorBudget budget) : IConnectionListener
    {
        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                var connection = await inner.AcceptAsync(cancellationToken).ConfigureAwait(false);
                if (connection is null || budget.TryCharge())
                {
                    return connection;
                }

                // Closed at once: the caller's gRPC stack reports Unavailable (retryable).
                connection.Abort(new ConnectionAbortedException(DescriptorBudget.Exhausted));
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => inner.UnbindAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
