using Grpc.Core;

namespace Anchorage.Server.WebConsole.Internal;

/// <summary>
/// The call context of an admin API read made in-process by the console: the same service methods
/// the CLI calls answer the console, so there is one implementation of each view. Carries only the
/// request's cancellation; there is no peer (the admin service's audit records never see one: the
/// console calls no write method).
/// </summary>
internal sealed class ConsoleCallContext(string method, CancellationToken cancellationToken) : ServerCallContext
{
    private Status _status;
    private WriteOptions? _writeOptions;

    protected override string MethodCore => method;

    protected override string HostCore => "console";

    protected override string PeerCore => "console";

    protected override DateTime DeadlineCore => DateTime.MaxValue;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => cancellationToken;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore
    {
        get => _status;
        set => _status = value;
    }

    protected override WriteOptions? WriteOptionsCore
    {
        get => _writeOptions;
        set => _writeOptions = value;
    }

    protected override AuthContext AuthContextCore { get; } = new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("console calls do not propagate");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
