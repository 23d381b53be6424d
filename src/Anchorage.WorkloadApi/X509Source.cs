using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Internal;

namespace Anchorage.WorkloadApi;

/// <summary>
/// The workload's current X.509-SVID and X.509 bundles, kept current by watching
/// <c>FetchX509SVID</c> (SPIFFE Workload API §5.2.1): hand it to
/// <see cref="Spiffe.Tls.SpiffeTls"/> and every handshake uses the SVID current at that moment.
/// </summary>
public sealed class X509Source : IX509SvidSource, IX509BundleSource, IAsyncDisposable
{
    private readonly Func<IReadOnlyList<X509Svid>, X509Svid> _picker;
    private readonly Watcher<X509Context> _watcher;
    private volatile State? _state;

    /// <summary>
    /// Starts watching at once; until the first update arrives <see cref="GetX509Svid"/> throws.
    /// Prefer <see cref="CreateAsync"/>, which waits for it.
    /// </summary>
    /// <param name="client">The Workload API client; not disposed by the source.</param>
    /// <param name="picker">Chooses the SVID to present from those received; default the first (the default SVID).</param>
    public X509Source(WorkloadApiClient client, Func<IReadOnlyList<X509Svid>, X509Svid>? picker = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _picker = picker ?? (svids => svids[0]);
        _watcher = new Watcher<X509Context>(client.WatchX509ContextsAsync, Apply, SourceMetrics.Track("x509", client.TimeProvider));
    }

    /// <summary>Raised (on a background thread) after each update has been applied.</summary>
    public event EventHandler? Updated;

    /// <summary>The last update received; null before the first.</summary>
    public X509Context? Context => _state?.Context;

    /// <summary>
    /// Creates a source and waits for its first update. Use a cancellation token with a timeout
    /// (<see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/>) to bound the wait.
    /// </summary>
    /// <exception cref="Grpc.Core.RpcException">The Workload API answered InvalidArgument or Unimplemented (never retried).</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the first update.</exception>
    public static Task<X509Source> CreateAsync(
        WorkloadApiClient client,
        Func<IReadOnlyList<X509Svid>, X509Svid>? picker = null,
        CancellationToken cancellationToken = default)
        => SourceStart.WhenUpdatedAsync(new X509Source(client, picker), static (s, ct) => s.WaitUntilUpdatedAsync(ct), cancellationToken);

    /// <summary>Completes once the source holds an update (at once if it already does).</summary>
    /// <exception cref="Grpc.Core.RpcException">The watch failed permanently before the first update.</exception>
    /// <exception cref="OperationCanceledException">Cancelled first.</exception>
    public Task WaitUntilUpdatedAsync(CancellationToken cancellationToken = default) =>
        _watcher.Ready.WaitAsync(cancellationToken);

    /// <summary>The picked X.509-SVID of the last update.</summary>
    /// <exception cref="InvalidOperationException">No update has arrived yet.</exception>
    public X509Svid GetX509Svid() =>
        (_state ?? throw new InvalidOperationException("x509 source has no svid yet")).Svid;

    /// <inheritdoc/>
    public bool TryGetX509Bundle(TrustDomain trustDomain, [NotNullWhen(true)] out X509Bundle? bundle)
    {
        var state = _state;
        if (state is null)
        {
            bundle = null;
            return false;
        }

        return state.Context.Bundles.TryGetX509Bundle(trustDomain, out bundle);
    }

    /// <summary>Stops watching.</summary>
    public ValueTask DisposeAsync() => _watcher.DisposeAsync();

    private void Apply(X509Context context)
    {
        var svid = _picker(context.Svids) ?? throw new InvalidOperationException("the svid picker returned null");
        _state = new State(context, svid);
        Updated?.Invoke(this, EventArgs.Empty);
    }

    private sealed record State(X509Context Context, X509Svid Svid);
}
