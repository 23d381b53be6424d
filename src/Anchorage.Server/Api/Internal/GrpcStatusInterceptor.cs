using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api.Internal;

/// <summary>Runs every agent and admin API method behind <see cref="GrpcStatusMapper"/>.</summary>
internal sealed class GrpcStatusInterceptor : Interceptor
{
    private readonly ILogger _logger;

    public GrpcStatusInterceptor(ILoggerFactory loggerFactory)
    {
        _logger = loggerFactory.CreateLogger(ApiLog.Category);
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw GrpcStatusMapper.ToRpcException(ex, _logger, context.Method);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw GrpcStatusMapper.ToRpcException(ex, _logger, context.Method);
        }
    }
}
