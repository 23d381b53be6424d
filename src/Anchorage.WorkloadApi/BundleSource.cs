using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.WorkloadApi.Internal;

namespace Anchorage.WorkloadApi;

/// <summary>
/// X.509 and JWT bundles, kept current by watching <c>FetchX509Bundles</c> and
/// <c>FetchJWTBundles</c> (SPIFFE Workload API §5.2.2, §6.2.2), for workloads that verify peers
/// but hold no SVID of their own. Each lookup answers only the trust domain asked for.
/// </summary>
public sealed class BundleSource : IX509BundleSource, IJwtBundleSource, IAsyncDisposable
{
    private readonly Watcher<BundleSet> _x509;
    private readonly Watcher<BundleSet> _jwt;
    private BundleSet? _x509Bundles;
    private BundleSet? _jwtBundles;

    /// <summary>Starts both watches at once. Prefer <see cref="CreateAsync"/>, which waits for the first updates.</summary>
    /// <param name="client">The Workload API client; not disposed by the source.</param>
    public BundleSource(WorkloadApiClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _x509 = new Watcher<BundleSet>(client.WatchX509BundlesAsync, b => Apply(ref _x509Bundles, b), SourceMetrics.Track("bundle_x509", client.TimeProvider));
        _jwt = new Watcher<BundleSet>(client.WatchJwtBundlesAsync, b => Apply(ref _jwtBundles, b), SourceMetrics.Track("bundle_jwt", client.TimeProvider));
    }

    /// <summary>Raised (on a background thread) after each X.509 or JWT bundle update.</summary>
    public event EventHandler? Updated;

    /// <summary>Creates a source and waits until both kinds of bundle have arrived; see <see cref="X509Source.CreateAsync"/>.</summary>
    /// <exception cref="Grpc.Core.RpcException">The Workload API answered InvalidArgument or Unimplemented.</exception>
    /// <exception cref="OperationCanceledException">Cancelled first.</exception>
    public static Task<BundleSource> CreateAsync(WorkloadApiClient client, CancellationToken cancellationToken = default)
        => SourceStart.WhenUpdatedAsync(new BundleSource(client), static (s, ct) => s.WaitUntilUpdatedAsync(ct), cancellationToken);

    /// <summary>Completes once both X.509 and JWT bundles have arrived (at once if they have).</summary>
    public Task WaitUntilUpdatedAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(_x509.Ready, _jwt.Ready).WaitAsync(cancellationToken);

    /// <inheritdoc/>
    public bool TryGetX509Bundle(TrustDomain trustDomain, [NotNullWhen(true)] out X509Bundle? bundle)
    {
        var bundles = Volatile.Read(ref _x509Bundles);
        bundle = null;
        return bundles is not null && bundles.TryGetX509Bundle(trustDomain, out bundle);
    }

    /// <inheritdoc/>
    public bool TryGetJwtBundle(TrustDomain trustDomain, [NotNullWhen(true)] out JwtBundle? bundle)
    {
        var bundles = Volatile.Read(ref _jwtBundles);
        bundle = null;
        return bundles is not null && bundles.TryGetJwtBundle(trustDomain, out bundle);
    }

    /// <summary>Stops watching.</summary>
    public async ValueTask DisposeAsync()
    {
        await _x509.DisposeAsync().ConfigureAwait(false);
        await _jwt.DisposeAsync().ConfigureAwait(false);
    }

    private void Apply(ref BundleSet? field, BundleSet bundles)
    {
        Volatile.Write(ref field, bundles);
        Updated?.Invoke(this, EventArgs.Empty);
    }
}
