using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Refusals written by the host's middleware: a trailers-only gRPC status for gRPC calls, plain text otherwise.</summary>
internal static class GrpcReply
{
    public static Task RefuseAsync(HttpContext context, StatusCode grpcStatus, int httpStatus, string message)
    {
        var response = context.Response;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = ((int)grpcStatus).ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = Uri.EscapeDataString(message).Replace("%20", " ", StringComparison.Ordinal);
            return Task.CompletedTask;
        }

        response.StatusCode = httpStatus;
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(message + "\n", context.RequestAborted);
    }
}
