using System.CommandLine;
using System.Net.Sockets;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Anchorage.Cli.Internal;

/// <summary>
/// A connection to the server's admin API over its unix socket, and the one place where gRPC
/// statuses become CLI errors: client-side problems and rejections the operator can fix are
/// exit 1 with the server's words; an unreachable socket and anything unexpected are exit 2.
/// </summary>
internal sealed class AdminConnection : IDisposable
{
    /// <summary>The environment variable that overrides the default socket path.</summary>
    public const string SocketEnvironmentVariable = "ANCHORAGE_ADMIN_SOCKET";

    /// <summary>Where the server listens unless told otherwise.</summary>
    public const string DefaultSocketPath = "/var/lib/anchorage/server/admin.sock";

    /// <summary>How long any one admin call may take before it fails with DeadlineExceeded.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel;

    private AdminConnection(string socketPath)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };

        // The authority is irrelevant over a unix socket; http:// selects HTTP/2 without TLS.
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
        });
        Client = new AdminApi.AdminApiClient(_channel);
    }

    /// <summary>The socket this connection dials.</summary>
    public string SocketPath { get; }

    /// <summary>The channel, for the standard gRPC services (health) the admin socket also serves.</summary>
    public GrpcChannel Channel => _channel;

    /// <summary>The generated client; call it through <see cref="CallAsync{TResponse}"/>.</summary>
    public AdminApi.AdminApiClient Client { get; }

    /// <summary>The <c>--socket PATH</c> option every admin verb carries.</summary>
    public static Option<string?> SocketOption() => new("--socket")
    {
        Description = $"the server's admin socket (default: ${SocketEnvironmentVariable}, else {DefaultSocketPath})",
    };

    /// <summary>The socket path: the option when given, else the environment, else the default.</summary>
    public static string ResolveSocketPath(string? option, Func<string, string?> environment)
    {
        if (!string.IsNullOrEmpty(option))
        {
            return option;
        }

        var fromEnvironment = environment(SocketEnvironmentVariable);
        return string.IsNullOrEmpty(fromEnvironment) ? DefaultSocketPath : fromEnvironment;
    }

    /// <summary>Opens a connection for the socket chosen on <paramref name="parse"/>'s command line.</summary>
    public static AdminConnection Open(ParseResult parse, Option<string?> socket) =>
        new(ResolveSocketPath(parse.GetValue(socket), Environment.GetEnvironmentVariable));

    /// <summary>Opens a connection to the admin socket at <paramref name="socketPath"/> (the demo drives several servers).</summary>
    public static AdminConnection ForSocket(string socketPath) => new(socketPath);

    /// <summary>
    /// Makes one call with a deadline and turns a failed status into a <see cref="CliException"/>.
    /// </summary>
    /// <exception cref="CliException">The call failed; see <see cref="ToCliException"/>.</exception>
    public async Task<TResponse> CallAsync<TResponse>(
        Func<AdminApi.AdminApiClient, CallOptions, AsyncUnaryCall<TResponse>> call,
        CancellationToken cancellationToken)
    {
        // The deadline is wall-clock time on the same clock gRPC measures it with, so it
        // comes from the system clock rather than the CLI's (possibly fixed) TimeProvider.
        var options = new CallOptions(
            deadline: TimeProvider.System.GetUtcNow().UtcDateTime + CallTimeout,
            cancellationToken: cancellationToken);
        try
        {
            return await call(Client, options).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw ToCliException(ex, SocketPath);
        }
    }

    /// <summary>
    /// The error a failed call is reported as. Unavailable because the socket could not be
    /// dialled: exit 2, <c>error: cannot reach the server admin socket PATH: reason</c>.
    /// InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, PermissionDenied,
    /// ResourceExhausted: exit 1, <c>error: detail</c>. Anything else (including Unavailable
    /// sent by the server itself): exit 2, <c>error: code: detail</c>.
    /// </summary>
    public static CliException ToCliException(RpcException ex, string socketPath)
    {
        var detail = CliApp.OneLine(ex.Status.Detail);
        if (ex.StatusCode == StatusCode.Unavailable && ex.Status.DebugException is { } cause)
        {
            return CliException.Usage($"cannot reach the server admin socket {socketPath}: {Reason(cause, detail)}");
        }

        if (IsRejection(ex.StatusCode))
        {
            return new CliException(ExitCodes.Rejected, "error: " + (detail.Length > 0 ? detail : CodeName(ex.StatusCode)));
        }

        return CliException.Usage(detail.Length > 0 ? $"{CodeName(ex.StatusCode)}: {detail}" : CodeName(ex.StatusCode));
    }

    /// <summary>Whether <paramref name="code"/> means the server understood and refused the request.</summary>
    public static bool IsRejection(StatusCode code) => code is StatusCode.InvalidArgument
        or StatusCode.NotFound
        or StatusCode.AlreadyExists
        or StatusCode.FailedPrecondition
        or StatusCode.PermissionDenied
        or StatusCode.ResourceExhausted;

    /// <summary>A status code in words: <c>DeadlineExceeded</c> is <c>deadline exceeded</c>.</summary>
    public static string CodeName(StatusCode code)
    {
        var name = code.ToString();
        var words = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                words.Append(' ');
            }

            words.Append(char.ToLowerInvariant(name[i]));
        }

        return words.ToString();
    }

    private static string Reason(Exception cause, string detail)
    {
        for (var e = cause; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.AddressNotAvailable => "no such socket file",
                    SocketError.ConnectionRefused => "connection refused",
                    SocketError.AccessDenied => "permission denied",
                    _ => CliApp.OneLine(socket.Message).ToLowerInvariant(),
                };
            }
        }

        return detail.Length > 0 ? detail : "unavailable";
    }

    public void Dispose() => _channel.Dispose();
}
