using Grpc.Core;

namespace Anchorage.Agent.Node.Internal;

/// <summary>How the agent reads a failed call to its server: the one rule for "try again, on a fresh connection".</summary>
internal static class ServerErrors
{
    /// <summary>
    /// True when <paramref name="failure"/> says the server could not be reached or did not answer
    /// (it may be starting, restarting, overloaded, or the network may be down), so the call is
    /// worth repeating on a new channel: <see cref="StatusCode.Unavailable"/>,
    /// <see cref="StatusCode.DeadlineExceeded"/>, <see cref="StatusCode.Internal"/> (how the gRPC
    /// client reports a connection that broke mid-call), and <see cref="StatusCode.Cancelled"/>
    /// that the caller did not ask for (the channel's connect timeout). Refusals
    /// (PermissionDenied, Unauthenticated, InvalidArgument, ...) are answers, not transient.
    /// </summary>
    /// <param name="failure">The failed call.</param>
    /// <param name="cancellationToken">The caller's token: a cancellation it asked for is not transient.</param>
    public static bool IsTransient(RpcException failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return failure.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal
            || (failure.StatusCode == StatusCode.Cancelled && !cancellationToken.IsCancellationRequested);
    }
}
