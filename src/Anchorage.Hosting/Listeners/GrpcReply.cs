using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Anchorage.Hosting.Listeners;

/// <summary>Refusals written by a host's middleware: a trailers-only gRPC status for gRPC calls, plain text otherwise.</summary>
public static class GrpcReply
{
    /// <summary>Ends the request with <paramref name="grpcStatus"/> (gRPC) or <paramref name="httpStatus"/> and the message as text.</summary>
    public static Task RefuseAsync(HttpContext context, StatusCode grpcStatus, int httpStatus, string message)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = context.Response;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = ((int)grpcStatus).ToString(CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = Uri.EscapeDataString(message).Replace("%20", " ", StringComparison.Ordinal);
            return Task.CompletedTask;
        }

        response.StatusCode = httpStatus;
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(message + "\n", context.RequestAborted);
    }
}
