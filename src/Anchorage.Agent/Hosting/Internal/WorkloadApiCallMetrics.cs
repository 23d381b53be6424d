using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Counts every Workload API call by method and outcome (the gRPC status code's name).</summary>
internal sealed class WorkloadApiCallMetrics(AgentMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var outcome = StatusCode.Unknown;
        try
        {
            var response = await continuation(request, context).ConfigureAwait(false);
            outcome = StatusCode.OK;
            return response;
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

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var outcome = StatusCode.Unknown;
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            outcome = StatusCode.OK;
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
