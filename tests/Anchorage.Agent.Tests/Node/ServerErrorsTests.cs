using Anchorage.Agent.Node.Internal;
using Grpc.Core;

namespace Anchorage.Agent.Tests.Node;

/// <summary>
/// The one rule for a failed call to the server (issue 13): the start-up retry loop and the
/// session's channel reset used to disagree on Internal and on a cancellation nobody asked for.
/// </summary>
public sealed class ServerErrorsTests
{
    public static TheoryData<StatusCode, bool> Codes => new()
    {
        { StatusCode.Unavailable, true },
        { StatusCode.DeadlineExceeded, true },
        { StatusCode.Internal, true },
        { StatusCode.Cancelled, true },
        { StatusCode.PermissionDenied, false },
        { StatusCode.Unauthenticated, false },
        { StatusCode.InvalidArgument, false },
        { StatusCode.NotFound, false },
        { StatusCode.FailedPrecondition, false },
        { StatusCode.ResourceExhausted, false },
        { StatusCode.Unimplemented, false },
        { StatusCode.Unknown, false },
        { StatusCode.OK, false },
    };

    [Theory]
    [MemberData(nameof(Codes))]
    public void IsTransient_StatusWithoutCallerCancellation_OnlyUnreachableOrBrokenCalls(StatusCode code, bool transient)
    {
        Assert.Equal(transient, ServerErrors.IsTransient(new RpcException(new Status(code, "x")), CancellationToken.None));
    }

    [Fact]
    public void IsTransient_CancelledByTheCaller_NotTransient()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.False(ServerErrors.IsTransient(new RpcException(new Status(StatusCode.Cancelled, "x")), cts.Token));
        Assert.True(ServerErrors.IsTransient(new RpcException(new Status(StatusCode.Unavailable, "x")), cts.Token));
    }
}
