using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Internal;

namespace Anchorage.WorkloadApi;

/// <summary>
/// JWT-SVIDs on demand and the JWT bundles, kept current by watching <c>FetchJWTBundles</c>
/// (SPIFFE Workload API §6.2.2): hand it to <see cref="JwtSvidValidator"/> as the bundle source.
/// </summary>
public sealed class JwtSource : IJwtBundleSource, IAsyncDisposable
{
    private readonly WorkloadApiClient _client;
    private readonly Watcher<BundleSet> _watcher;
    private volatile BundleSet? _bundles;

    /// <summary>Starts watching at once. Prefer <see cref="CreateAsync"/>, which waits for the first update.</summary>
    /// <param name="client">The Workload API client; not disposed by the source.</param>
    public JwtSource(WorkloadApiClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _watcher = new Watcher<BundleSet>(client.WatchJwtBundlesAsync, Apply, SourceMetrics.Track("jwt_bundles", client.TimeProvider));
    }

    /// <summary>Raised (on a background thread) after each bundle update has been applied.</summary>
    public event EventHandler? Updated;

    /// <summary>The JWT bundles of the last update; null before the first.</summary>
    public BundleSet? Bundles => _bundles;

    /// <summary>Creates a source and waits for its first update; see <see cref="X509Source.CreateAsync"/>.</summary>
    /// <exception cref="Grpc.Core.RpcException">The Workload API answered InvalidArgument or Unimplemented.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the first update.</exception>
    public static Task<JwtSource> CreateAsync(WorkloadApiClient client, CancellationToken cancellationToken = default)
        => SourceStart.WhenUpdatedAsync(new JwtSource(client), static (s, ct) => s.WaitUntilUpdatedAsync(ct), cancellationToken);

    /// <summary>Completes once the source holds bundles (at once if it already does).</summary>
    public Task WaitUntilUpdatedAsync(CancellationToken cancellationToken = default) =>
        _watcher.Ready.WaitAsync(cancellationToken);

    /// <summary>Fetches a JWT-SVID for <paramref name="audience"/> (Workload API §6.2.1).</summary>
    /// <exception cref="Grpc.Core.RpcException">The server refused or could not be reached.</exception>
    public Task<JwtSvid> FetchJwtSvidAsync(string audience, SpiffeId? spiffeId = null, CancellationToken cancellationToken = default) =>
        _client.FetchJwtSvidAsync(audience, spiffeId, cancellationToken);

    /// <summary>Fetches JWT-SVIDs for <paramref name="audiences"/>, one per identity (Workload API §6.2.1).</summary>
    /// <exception cref="Grpc.Core.RpcException">The server refused or could not be reached.</exception>
    public Task<IReadOnlyList<JwtSvid>> FetchJwtSvidsAsync(IReadOnlyList<string> audiences, SpiffeId? spiffeId = null, CancellationToken cancellationToken = default) =>
        _client.FetchJwtSvidsAsync(audiences, spiffeId, cancellationToken);

    /// <inheritdoc/>
    public bool TryGetJwtBundle(TrustDomain trustDomain, [NotNullWhen(true)] out JwtBundle? bundle)
    {
        var bundles = _bundles;
        bundle = null;
        return bundles is not null && bundles.TryGetJwtBundle(trustDomain, out bundle);
    }

    /// <summary>Stops watching.</summary>
    public ValueTask DisposeAsync() => _watcher.DisposeAsync();

    private void Apply(BundleSet bundles)
    {
        _bundles = bundles;
        Updated?.Invoke(this, EventArgs.Empty);
    }
}
