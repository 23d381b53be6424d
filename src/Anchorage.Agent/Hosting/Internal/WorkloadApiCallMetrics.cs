using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Counts every Workload API call by method and outcome (the gRPC status code's name).</summary>
internal sealed class WorkloadApiCallMetrics(AgentMetrics metrics) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        return MeasureAsync(context, () => continuation(request, context));
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        return MeasureAsync(context, async () =>
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            return true;
        });
    }

    /// <summary>Runs the call and counts it under its outcome: OK, the status it failed with, or Cancelled.</summary>
    private async Task<T> MeasureAsync<T>(ServerCallContext context, Func<Task<T>> call)
    {
        var outcome = StatusCode.Unknown;
        try
        {
            var result = await call().ConfigureAwait(false);
            outcome = StatusCode.OK;
            return result;
        }
        catch (RpcException e)
        {
            outcome = e.StatusCode;
            throw;
        }
        catch (OperationCanceledException)
        {
            outcome = StatusCode.Cancelled;
            throw;
        }
        finally
        {
            metrics.RecordWorkloadApiCall(MethodName(context.Method), outcome.ToString());
        }
    }

    // "/SpiffeWorkloadAPI/FetchX509SVID" -> "FetchX509SVID".
    private static string MethodName(string path) => path[(path.LastIndexOf('/') + 1)..];
}
