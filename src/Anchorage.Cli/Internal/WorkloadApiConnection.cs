using System.CommandLine;
using System.Globalization;
using Anchorage.Foundation.Text;
using Anchorage.WorkloadApi;
using Grpc.Core;

namespace Anchorage.Cli.Internal;

/// <summary>
/// The <c>--socket</c> option of <c>anchorage agent api ...</c> and <c>agent healthcheck</c>, and
/// the one place their gRPC failures become CLI errors (exit 1, one line).
/// </summary>
internal static class WorkloadApiConnection
{
    public const string DefaultAddress = "unix:///run/anchorage/agent/api.sock";

    public static Option<string?> SocketOption() => new("--socket")
    {
        Description = "the Workload API: a socket path, unix:///path or tcp://ip:port (default: $SPIFFE_ENDPOINT_SOCKET, then " + DefaultAddress + ")",
    };

    /// <summary>The address: the option, else <c>SPIFFE_ENDPOINT_SOCKET</c>, else the agent's default socket.</summary>
    /// <exception cref="CliException">The value is not a usable address (exit 2).</exception>
    public static string ResolveAddress(string? socket)
    {
        var value = !string.IsNullOrEmpty(socket) ? socket
            : Environment.GetEnvironmentVariable(WorkloadApiAddress.EnvironmentVariable) is { Length: > 0 } env ? env
            : DefaultAddress;

        // A plain path is a Unix socket; anything with a scheme is a Workload API address.
        if (!value.Contains(':', StringComparison.Ordinal))
        {
            value = "unix://" + Path.GetFullPath(value);
        }

        try
        {
            WorkloadApiAddress.Parse(value);
        }
        catch (FormatException ex)
        {
            throw CliException.Usage("--socket: " + ex.Message);
        }

        return value;
    }

    public static WorkloadApiClient Open(ParseResult parse, Option<string?> socket, CliContext context) =>
        new(new WorkloadApiClientOptions { Address = ResolveAddress(parse.GetValue(socket)), TimeProvider = context.Time });

    /// <summary>Makes one Workload API call; a gRPC failure becomes the command's one-line error (<see cref="ToCliException"/>).</summary>
    public static async Task<T> CallAsync<T>(WorkloadApiClient client, Func<WorkloadApiClient, Task<T>> call)
    {
        try
        {
            return await call(client).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw ToCliException(ex, client);
        }
    }

    /// <summary>A failed call as one line, exit 1: the agent is unreachable, refused, or answered an error.</summary>
    public static CliException ToCliException(RpcException ex, WorkloadApiClient client) => ex.StatusCode switch
    {
        StatusCode.Unavailable => new CliException(ExitCodes.Rejected, $"error: cannot reach the workload api at {client.Address}"),
        StatusCode.DeadlineExceeded => new CliException(ExitCodes.Rejected, $"error: the workload api at {client.Address} did not answer in time"),
        StatusCode.PermissionDenied => CliException.Rejected("the workload api has no identity for this process"),
        _ => CliException.Rejected(string.Create(
            CultureInfo.InvariantCulture,
            $"workload api: {ex.StatusCode.ToString().ToLowerInvariant()}: {CliApp.OneLine(ex.Status.Detail)}")),
    };

    public static string Time(DateTimeOffset instant) => Rfc3339.Format(instant);
}
