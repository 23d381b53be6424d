using Anchorage.Protos.Workload;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server.Internal;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.WorkloadApi.Server;

/// <summary>
/// The SPIFFE Workload API (SPIFFE_Workload_API §5-§7) over an <see cref="IWorkloadIdentityProvider"/>.
/// Thin: it checks the security header, asks the provider who is calling, and encodes the answer.
/// </summary>
public sealed class WorkloadApiService : SpiffeWorkloadAPI.SpiffeWorkloadAPIBase
{
    /// <summary>The metadata key every request must carry with the value <c>true</c> (SPIFFE Workload Endpoint, security header).</summary>
    public const string SecurityHeader = "workload.spiffe.io";

    private readonly IWorkloadIdentityProvider _provider;
    private readonly WorkloadApiOptions _options;
    private readonly StreamLimiter _limiter;
    private readonly JwtSvidValidator _validator;
    private readonly EncodedParts _encoded = new();
    private readonly ILogger _logger;

    /// <summary>Creates the service.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The options are out of range.</exception>
    public WorkloadApiService(IWorkloadIdentityProvider provider, WorkloadApiOptions options, ILogger<WorkloadApiService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxStreamsPerCaller, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAudiences, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAudienceLength, 1, nameof(options));
        _provider = provider;
        _options = options;
        _limiter = new StreamLimiter(options.MaxStreamsPerCaller, options.TimeProvider);
        _validator = new JwtSvidValidator(options.TimeProvider, options.JwtLeeway);
        _logger = logger ?? NullLogger<WorkloadApiService>.Instance;
    }

    /// <summary>Streams the caller's X.509-SVIDs and bundles, the full state on every change (Workload API §5.2.1).</summary>
    public override Task FetchX509SVID(X509SVIDRequest request, IServerStreamWriter<X509SVIDResponse> responseStream, ServerCallContext context) =>
        StreamAsync(nameof(FetchX509SVID), BuildX509SvidResponse, responseStream, context);

    /// <summary>Streams the X.509 bundles the caller may see, own trust domain included (Workload API §5.2.2).</summary>
    public override Task FetchX509Bundles(X509BundlesRequest request, IServerStreamWriter<X509BundlesResponse> responseStream, ServerCallContext context) =>
        StreamAsync(nameof(FetchX509Bundles), BuildX509BundlesResponse, responseStream, context);

    /// <summary>Streams the JWT bundles the caller may see as JWK Sets (Workload API §6.2.2).</summary>
    public override Task FetchJWTBundles(JWTBundlesRequest request, IServerStreamWriter<JWTBundlesResponse> responseStream, ServerCallContext context) =>
        StreamAsync(nameof(FetchJWTBundles), BuildJwtBundlesResponse, responseStream, context);

    /// <summary>Mints JWT-SVIDs for the requested audience (Workload API §6.2.1).</summary>
    public override async Task<JWTSVIDResponse> FetchJWTSVID(JWTSVIDRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        RequireHeader(nameof(FetchJWTSVID), context);
        if (request.Audience.Count == 0 || request.Audience.Any(string.IsNullOrEmpty))
        {
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.AudienceRequired);
        }

        // Each distinct audience is a new token minted (and kept) by the host: bounded.
        if (request.Audience.Count > _options.MaxAudiences)
        {
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.TooManyAudiences(request.Audience.Count, _options.MaxAudiences));
        }

        if (request.Audience.Max(a => a.Length) is var longest && longest > _options.MaxAudienceLength)
        {
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.AudienceTooLong(longest, _options.MaxAudienceLength));
        }

        SpiffeId? requested = null;
        if (request.SpiffeId.Length > 0)
        {
            if (!SpiffeId.TryParse(request.SpiffeId, out var id))
            {
                throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.InvalidSpiffeId);
            }

            requested = id;
        }

        var identity = await ResolveAsync(nameof(FetchJWTSVID), context).ConfigureAwait(false);
        var owned = identity.X509Svids.Select(s => s.Id).Distinct().ToList();
        if (owned.Count == 0)
        {
            throw WorkloadApiErrors.PermissionDenied(WorkloadApiErrors.NoSvid);
        }

        if (requested is { } only)
        {
            if (!owned.Contains(only))
            {
                throw WorkloadApiErrors.PermissionDenied(WorkloadApiErrors.NotCallersSpiffeId);
            }

            owned = [only];
        }

        var svids = await _provider.MintJwtSvidsAsync(identity, owned, [.. request.Audience], context.CancellationToken).ConfigureAwait(false);
        var response = new JWTSVIDResponse();
        foreach (var svid in svids)
        {
            response.Svids.Add(new JWTSVID { SpiffeId = svid.Id.ToString(), Svid = svid.Token, Hint = svid.Hint ?? string.Empty });
        }

        return response;
    }

    /// <summary>
    /// Validates a JWT-SVID with <see cref="JwtSvidValidator"/> against the JWT bundles the caller
    /// may see (Workload API §6.2.3, JWT-SVID §3-§4); answers the SPIFFE ID and every claim.
    /// </summary>
    public override async Task<ValidateJWTSVIDResponse> ValidateJWTSVID(ValidateJWTSVIDRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        RequireHeader(nameof(ValidateJWTSVID), context);
        if (request.Audience.Length == 0)
        {
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.AudienceRequired);
        }

        if (request.Audience.Length > _options.MaxAudienceLength)
        {
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.AudienceTooLong(request.Audience.Length, _options.MaxAudienceLength));
        }

        if (request.Svid.Length == 0)
        {
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.SvidRequired);
        }

        var identity = await ResolveAsync(nameof(ValidateJWTSVID), context).ConfigureAwait(false);
        JwtSvid svid;
        try
        {
            svid = _validator.Validate(request.Svid, request.Audience, identity.Bundles);
        }
        catch (SpiffeException ex)
        {
            // Validation messages are short and never echo the token, so they are safe to return.
            WorkloadApiLog.JwtSvidRejected(_logger, ex.Message);
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.InvalidJwtSvid(ex.Message));
        }

        _provider.JwtSvidValidated(svid.Id);
        return new ValidateJWTSVIDResponse
        {
            SpiffeId = svid.Id.ToString(),
            Claims = Struct.Parser.ParseJson(svid.Claims.GetRawText()),
        };
    }

    /// <summary>The WIT-SVID profile is not supported: Unimplemented (Workload API §7).</summary>
    public override Task FetchWITSVID(WITSVIDRequest request, IServerStreamWriter<WITSVIDResponse> responseStream, ServerCallContext context) =>
        throw WorkloadApiErrors.Unimplemented(WorkloadApiErrors.WitUnsupported);

    /// <summary>The WIT-SVID profile is not supported: Unimplemented (Workload API §7).</summary>
    public override Task FetchWITBundles(WITBundlesRequest request, IServerStreamWriter<WITBundlesResponse> responseStream, ServerCallContext context) =>
        throw WorkloadApiErrors.Unimplemented(WorkloadApiErrors.WitUnsupported);

    /// <summary>
    /// Open streams held by <paramref name="caller"/> (see <see cref="WorkloadIdentity.Caller"/>)
    /// under its default SPIFFE ID <paramref name="defaultId"/> (empty for a bundle-only caller).
    /// </summary>
    public int OpenStreams(string caller, string defaultId) => _limiter.OpenStreams(caller + " " + defaultId);

    /// <summary>How long a stream over <see cref="WorkloadApiOptions.MaxStreamsPerCaller"/> waits for one of its caller's streams to end before it is refused.</summary>
    public static TimeSpan StreamSlotWait => StreamLimiter.SlotWait;

    /// <summary>Streams of <paramref name="caller"/> under <paramref name="defaultId"/> waiting for a slot (for tests).</summary>
    public int WaitingStreams(string caller, string defaultId) => _limiter.WaitingStreams(caller + " " + defaultId);

    // Streams are counted per caller key and attested identity: the caller key alone would let
    // one identity starve another of the same caller, and the identity alone lets callers of
    // other keys (other uids) be starved by a flood.
    private static string StreamKey(WorkloadIdentity identity) =>
        identity.Caller + " " + (identity.X509Svids.IsEmpty ? string.Empty : identity.X509Svids[0].Id.ToString());

    private X509SVIDResponse BuildX509SvidResponse(WorkloadIdentity identity)
    {
        if (identity.X509Svids.IsEmpty)
        {
            throw WorkloadApiErrors.PermissionDenied(WorkloadApiErrors.NoSvid);
        }

        var response = new X509SVIDResponse();
        var own = identity.Bundles.X509Bundles[identity.TrustDomain];
        foreach (var svid in identity.X509Svids)
        {
            var bundle = identity.Bundles.TryGetX509Bundle(svid.Id.TrustDomain, out var b) ? b : own;
            var encoded = _encoded.Svid(svid);
            response.Svids.Add(new X509SVID
            {
                SpiffeId = svid.Id.ToString(),
                X509Svid = encoded.Chain,
                X509SvidKey = encoded.Key,
                Bundle = _encoded.Bundle(bundle),
                Hint = svid.Hint ?? string.Empty,
            });
        }

        foreach (var (trustDomain, bundle) in identity.Bundles.X509Bundles)
        {
            if (trustDomain != identity.TrustDomain)
            {
                response.FederatedBundles[trustDomain.IdString] = _encoded.Bundle(bundle);
            }
        }

        return response;
    }

    private X509BundlesResponse BuildX509BundlesResponse(WorkloadIdentity identity)
    {
        var response = new X509BundlesResponse();
        foreach (var (trustDomain, bundle) in identity.Bundles.X509Bundles)
        {
            response.Bundles[trustDomain.IdString] = _encoded.Bundle(bundle);
        }

        return response;
    }

    private static JWTBundlesResponse BuildJwtBundlesResponse(WorkloadIdentity identity)
    {
        if (identity.Bundles.JwtBundles.IsEmpty)
        {
            throw WorkloadApiErrors.PermissionDenied(WorkloadApiErrors.NoJwtBundle);
        }

        var response = new JWTBundlesResponse();
        foreach (var (trustDomain, bundle) in identity.Bundles.JwtBundles)
        {
            // A SPIFFE bundle with only JWT authorities is a JWK Set holding nothing but
            // jwt-svid keys, as Workload API §6.2.2 asks.
            var jwks = new SpiffeBundle(trustDomain, [], bundle.Authorities).ToUtf8Json();
            response.Bundles[trustDomain.IdString] = ByteString.CopyFrom(jwks);
        }

        return response;
    }

    /// <summary>
    /// Sends the full state, then waits for the snapshot to be superseded, resolves the caller
    /// again and sends the new full state if it differs (Workload API §4.3), until the client leaves.
    /// </summary>
    private async Task StreamAsync<T>(string method, Func<WorkloadIdentity, T> build, IServerStreamWriter<T> stream, ServerCallContext context)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(context);
        RequireHeader(method, context);
        var identity = await ResolveAsync(method, context).ConfigureAwait(false);
        var key = StreamKey(identity);
        using var lease = await _limiter.AcquireAsync(key, context.CancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            WorkloadApiLog.StreamLimit(_logger, method, key, _options.MaxStreamsPerCaller);
            throw WorkloadApiErrors.Unavailable(WorkloadApiErrors.TooManyStreams);
        }

        var cancel = context.CancellationToken;
        T? last = null;
        try
        {
            while (true)
            {
                var message = build(identity);
                if (!message.Equals(last))
                {
                    await stream.WriteAsync(message, cancel).ConfigureAwait(false);
                    last = message;
                }

                if (!await WaitForChangeAsync(identity.Changed, cancel).ConfigureAwait(false))
                {
                    return; // The client went away; nothing to answer.
                }

                identity = await ResolveAsync(method, context).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client went away during a write or a resolve.
        }
    }

    /// <summary>
    /// Waits until the snapshot is superseded (true) or the client leaves (false). Without an
    /// exception: most streams end by the client leaving, and a thrown cancellation crossing the
    /// async frames was a measurable share of a FetchX509SVID call's CPU.
    /// </summary>
    /// <remarks>
    /// The client leaving ends the stream on the thread that saw it (Kestrel already runs the
    /// request-aborted callbacks as their own thread-pool item), which saves a second hop on the
    /// path most streams end by. A superseded snapshot wakes the stream through the thread pool:
    /// the cache cancels <paramref name="changed"/> for every open stream at once, and must not
    /// resolve and write each of them inline.
    /// </remarks>
    private static async Task<bool> WaitForChangeAsync(CancellationToken changed, CancellationToken cancel)
    {
        if (changed.IsCancellationRequested || cancel.IsCancellationRequested)
        {
            return !cancel.IsCancellationRequested;
        }

        var either = new TaskCompletionSource();
        using (changed.UnsafeRegister(
            static s => ThreadPool.UnsafeQueueUserWorkItem(static t => t.TrySetResult(), (TaskCompletionSource)s!, preferLocal: false), either))
        using (cancel.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), either))
        {
            await either.Task.ConfigureAwait(false);
        }

        return !cancel.IsCancellationRequested;
    }

    private void RequireHeader(string method, ServerCallContext context)
    {
        if (context.RequestHeaders.GetValue(SecurityHeader) != "true")
        {
            WorkloadApiLog.MissingHeader(_logger, method);
            throw WorkloadApiErrors.InvalidArgument(WorkloadApiErrors.MissingHeader);
        }
    }

    private async ValueTask<WorkloadIdentity> ResolveAsync(string method, ServerCallContext context)
    {
        var identity = await _provider.ResolveAsync(context, context.CancellationToken).ConfigureAwait(false);
        if (identity is null)
        {
            WorkloadApiLog.NoIdentity(_logger, method);
            throw WorkloadApiErrors.PermissionDenied(WorkloadApiErrors.NoIdentity);
        }

        return identity;
    }
}
