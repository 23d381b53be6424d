using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Internal;
using Grpc.Core;
using Grpc.Net.Client;

namespace Anchorage.WorkloadApi;

/// <summary>
/// A client of the SPIFFE Workload API (SPIFFE_Workload_API, SPIFFE Workload Endpoint) over a
/// Unix domain socket or TCP (cleartext HTTP/2, Workload Endpoint §3.1). Every call carries the
/// <c>workload.spiffe.io: true</c> header (Workload Endpoint §3). One-shot calls surface server
/// errors as <see cref="RpcException"/>; watches reconnect with backoff (see
/// <see cref="WatchX509ContextsAsync"/>). Received data is read by the core library's parsers,
/// so a malformed SVID or bundle is a <see cref="FormatException"/> or
/// <see cref="Spiffe.SvidValidationException"/>.
/// </summary>
public sealed class WorkloadApiClient : IAsyncDisposable, IDisposable
{
    /// <summary>The security header name (SPIFFE Workload Endpoint §3).</summary>
    public const string SecurityHeader = "workload.spiffe.io";

    private readonly GrpcChannel _channel;
    private readonly SpiffeWorkloadAPI.SpiffeWorkloadAPIClient _client;
    private readonly WorkloadApiClientOptions _options;
    private readonly Metadata _headers = new() { { SecurityHeader, "true" } };

    /// <summary>Creates a client; nothing connects until the first call.</summary>
    /// <exception cref="FormatException">The address breaks SPIFFE Workload Endpoint §4.</exception>
    /// <exception cref="InvalidOperationException">No address is configured and <c>SPIFFE_ENDPOINT_SOCKET</c> is unset.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A backoff option is not positive.</exception>
    public WorkloadApiClient(WorkloadApiClientOptions? options = null)
    {
        _options = options ?? new WorkloadApiClientOptions();
        ArgumentNullException.ThrowIfNull(_options.TimeProvider, "options.TimeProvider");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.InitialBackoff, TimeSpan.Zero, "options.InitialBackoff");
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBackoff, _options.InitialBackoff, "options.MaxBackoff");
        Address = WorkloadApiAddress.Resolve(_options.Address);
        _channel = CreateChannel(Address);
        _client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(_channel);
    }

    /// <summary>Creates a client for <paramref name="address"/> with default options.</summary>
    /// <exception cref="FormatException">The address breaks SPIFFE Workload Endpoint §4.</exception>
    public WorkloadApiClient(string address)
        : this(new WorkloadApiClientOptions { Address = address ?? throw new ArgumentNullException(nameof(address)) })
    {
    }

    /// <summary>The clock of this client's options (for the sources' metrics).</summary>
    internal TimeProvider TimeProvider => _options.TimeProvider;

    /// <summary>The address this client talks to.</summary>
    public WorkloadApiAddress Address { get; }

    /// <summary>The underlying channel (for other services on the endpoint, e.g. gRPC health).</summary>
    public GrpcChannel Channel => _channel;

    /// <summary>The headers every call sends (the security header).</summary>
    public Metadata Headers => _headers;

    /// <summary>The first <c>FetchX509SVID</c> message: the SVIDs (default first) and bundles (Workload API §5.2.1).</summary>
    /// <exception cref="RpcException">The server refused or could not be reached.</exception>
    public async Task<X509Context> FetchX509ContextAsync(CancellationToken cancellationToken = default)
    {
        using var call = _client.FetchX509SVID(new X509SVIDRequest(), Options(cancellationToken));
        var response = await FirstAsync(call.ResponseStream, cancellationToken).ConfigureAwait(false);
        return Wire.ToX509Context(response);
    }

    /// <summary>The first <c>FetchX509Bundles</c> message: X.509 bundles by trust domain (Workload API §5.2.2).</summary>
    /// <exception cref="RpcException">The server refused or could not be reached.</exception>
    public async Task<BundleSet> FetchX509BundlesAsync(CancellationToken cancellationToken = default)
    {
        using var call = _client.FetchX509Bundles(new X509BundlesRequest(), Options(cancellationToken));
        var response = await FirstAsync(call.ResponseStream, cancellationToken).ConfigureAwait(false);
        return Wire.ToX509Bundles(response.Bundles);
    }

    /// <summary>The first <c>FetchJWTBundles</c> message: JWT bundles by trust domain (Workload API §6.2.2).</summary>
    /// <exception cref="RpcException">The server refused or could not be reached.</exception>
    public async Task<BundleSet> FetchJwtBundlesAsync(CancellationToken cancellationToken = default)
    {
        using var call = _client.FetchJWTBundles(new JWTBundlesRequest(), Options(cancellationToken));
        var response = await FirstAsync(call.ResponseStream, cancellationToken).ConfigureAwait(false);
        return Wire.ToJwtBundles(response.Bundles);
    }

    /// <summary>
    /// A JWT-SVID for <paramref name="audience"/>: of <paramref name="spiffeId"/> when given, else
    /// the default identity's (Workload API §6.2.1).
    /// </summary>
    /// <exception cref="ArgumentException">The audience is empty.</exception>
    /// <exception cref="RpcException">The server refused or could not be reached.</exception>
    public async Task<JwtSvid> FetchJwtSvidAsync(string audience, SpiffeId? spiffeId = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(audience);
        var svids = await FetchJwtSvidsAsync([audience], spiffeId, cancellationToken).ConfigureAwait(false);
        return svids[0];
    }

    /// <summary>
    /// JWT-SVIDs for <paramref name="audiences"/>: one per identity the workload holds, default
    /// first, or only <paramref name="spiffeId"/>'s when given (Workload API §6.2.1).
    /// </summary>
    /// <exception cref="ArgumentException">No audience, or an empty one.</exception>
    /// <exception cref="RpcException">The server refused or could not be reached.</exception>
    public async Task<IReadOnlyList<JwtSvid>> FetchJwtSvidsAsync(IReadOnlyList<string> audiences, SpiffeId? spiffeId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(audiences);
        if (audiences.Count == 0 || audiences.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("at least one non-empty audience is required", nameof(audiences));
        }

        var request = new JWTSVIDRequest { SpiffeId = spiffeId?.ToString() ?? string.Empty };
        request.Audience.AddRange(audiences);
        var response = await _client.FetchJWTSVIDAsync(request, Options(cancellationToken)).ResponseAsync.ConfigureAwait(false);
        if (response.Svids.Count == 0)
        {
            throw new FormatException("jwt svid response has no svids");
        }

        // The channel is the trusted source here, so the token's signature is not checked again.
        return [.. response.Svids.Select(s => JwtSvid.ParseInsecure(s.Svid, audiences[0], _options.TimeProvider)
            .WithHint(s.Hint.Length == 0 ? null : s.Hint))];
    }

    /// <summary>
    /// Has the Workload API validate <paramref name="token"/> for <paramref name="audience"/>
    /// (Workload API §6.2.3) and returns it parsed.
    /// </summary>
    /// <exception cref="ArgumentException">The token or audience is empty.</exception>
    /// <exception cref="RpcException">The token is invalid (InvalidArgument), or the server refused or could not be reached.</exception>
    public async Task<JwtSvid> ValidateJwtSvidAsync(string token, string audience, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        ArgumentException.ThrowIfNullOrEmpty(audience);
        var response = await _client.ValidateJWTSVIDAsync(
            new ValidateJWTSVIDRequest { Svid = token, Audience = audience },
            Options(cancellationToken)).ResponseAsync.ConfigureAwait(false);
        var svid = JwtSvid.ParseInsecure(token, audience, _options.TimeProvider);
        if (svid.Id.ToString() != response.SpiffeId)
        {
            throw new FormatException("validated spiffe id does not match the token's subject");
        }

        return svid;
    }

    /// <summary>
    /// Every <c>FetchX509SVID</c> update until cancelled. On a failure or a closed stream the
    /// watch reconnects after an exponential backoff with jitter (Unavailable, PermissionDenied
    /// and other transient errors, SPIFFE Workload Endpoint §6); InvalidArgument and
    /// Unimplemented are not retried and end the enumeration with the <see cref="RpcException"/>.
    /// </summary>
    public IAsyncEnumerable<X509Context> WatchX509ContextsAsync(CancellationToken cancellationToken = default) =>
        WatchAsync(o => _client.FetchX509SVID(new X509SVIDRequest(), o), Wire.ToX509Context, cancellationToken);

    /// <summary>Every <c>FetchX509Bundles</c> update until cancelled; retries as <see cref="WatchX509ContextsAsync"/>.</summary>
    public IAsyncEnumerable<BundleSet> WatchX509BundlesAsync(CancellationToken cancellationToken = default) =>
        WatchAsync(o => _client.FetchX509Bundles(new X509BundlesRequest(), o), r => Wire.ToX509Bundles(r.Bundles), cancellationToken);

    /// <summary>Every <c>FetchJWTBundles</c> update until cancelled; retries as <see cref="WatchX509ContextsAsync"/>.</summary>
    public IAsyncEnumerable<BundleSet> WatchJwtBundlesAsync(CancellationToken cancellationToken = default) =>
        WatchAsync(o => _client.FetchJWTBundles(new JWTBundlesRequest(), o), r => Wire.ToJwtBundles(r.Bundles), cancellationToken);

    /// <summary>True for failures a client must not retry (SPIFFE Workload Endpoint §6, Appendix A).</summary>
    public static bool IsPermanent(Exception exception) =>
        exception is RpcException { StatusCode: StatusCode.InvalidArgument or StatusCode.Unimplemented };

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public void Dispose() => _channel.Dispose();

    private CallOptions Options(CancellationToken cancellationToken) => new(_headers, cancellationToken: cancellationToken);

    private async IAsyncEnumerable<T> WatchAsync<TResponse, T>(
        Func<CallOptions, AsyncServerStreamingCall<TResponse>> start,
        Func<TResponse, T> map,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.InitialBackoff, _options.MaxBackoff, _options.TimeProvider);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Exception failure;
            using (var call = start(Options(cancellationToken)))
            {
                var stream = call.ResponseStream;
                while (true)
                {
                    T item;
                    try
                    {
                        if (!await stream.MoveNext(cancellationToken).ConfigureAwait(false))
                        {
                            failure = new RpcException(new Status(StatusCode.Unavailable, "the workload api closed the stream"));
                            break;
                        }

                        item = map(stream.Current);
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException(cancellationToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException && !IsPermanent(ex))
                    {
                        failure = ex;
                        break;
                    }

                    backoff.Reset();
                    yield return item;
                }
            }

            var delay = backoff.Next();

            // The timer exists before anyone hears of the retry, so a test clock advanced on that news fires it.
            var wait = backoff.DelayAsync(delay, cancellationToken);
            _options.RetryScheduled?.Invoke(failure, delay);
            await wait.ConfigureAwait(false);
        }
    }

    private static async Task<T> FirstAsync<T>(IAsyncStreamReader<T> stream, CancellationToken cancellationToken)
    {
        if (!await stream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the workload api closed the stream without a response"));
        }

        return stream.Current;
    }

    private static GrpcChannel CreateChannel(WorkloadApiAddress address)
    {
        if (!address.IsUnix)
        {
            var ep = address.TcpEndPoint;
            var host = ep.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
            return GrpcChannel.ForAddress(new Uri($"http://{host}:{ep.Port}"), new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false },
            });
        }

        var path = address.SocketPath;
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                UseProxy = false,
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            },
        });
    }
}
