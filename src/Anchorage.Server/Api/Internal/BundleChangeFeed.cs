using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// One shared watcher of the bundles (own and federated), tainted authorities and the communication
/// policy's version, for the agent API's <c>WatchBundles</c> stream: it reads the datastore once per
/// interval, whatever the number of agents, so changes made by any server of the trust domain
/// (rotation, taint, a federated refresh, an operator's <c>bundle set</c> or <c>policy apply</c>)
/// reach every agent within about one interval; a change made through this server can be announced
/// at once with <see cref="RefreshNowAsync"/>.
/// </summary>
internal sealed class BundleChangeFeed : IDisposable
{
    /// <summary>How often the datastore is read.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    private readonly IDataStore _store;
    private readonly ICertificateAuthority _ca;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _version = string.Empty;
    private Task? _loop;
    private readonly WithheldBundles? _withheld;

    public BundleChangeFeed(IDataStore store, ICertificateAuthority ca, TimeProvider time, ILogger logger, TimeSpan? interval = null, WithheldBundles? withheld = null)
    {
        _withheld = withheld;
        _store = store;
        _ca = ca;
        _time = time;
        _logger = logger;
        _interval = interval ?? DefaultInterval;
    }

    /// <summary>The current version at once, then each new one, until <paramref name="cancellationToken"/> fires.</summary>
    public async IAsyncEnumerable<string> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        EnsureStarted();
        if (_version.Length == 0)
        {
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
        }

        var sent = string.Empty;
        while (!cancellationToken.IsCancellationRequested)
        {
            Task changed;
            string version;
            lock (_gate)
            {
                changed = _changed.Task;
                version = _version;
            }

            if (!string.Equals(version, sent, StringComparison.Ordinal))
            {
                sent = version;
                yield return version;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the datastore now, so a change just written reaches the watching agents without waiting for the next interval.</summary>
    public Task RefreshNowAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private void EnsureStarted()
    {
        lock (_gate)
        {
            _loop ??= Task.Run(() => RunAsync(_stop.Token));
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(_interval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is DataStoreUnavailableException or InvalidOperationException or IOException)
            {
                ApiLog.BundleFeedFailed(_logger, e.Message);
                try
                {
                    await Task.Delay(_interval, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    // Serialized: a slow read finishing after a newer one must not bring back an older version.
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        foreach (var stored in (await _store.ListBundlesAsync(cancellationToken).ConfigureAwait(false)).OrderBy(b => b.Bundle.TrustDomain.Name, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"{stored.Bundle.TrustDomain.Name}={stored.Bundle.SequenceNumber}@{stored.UpdatedAt.ToUnixTimeMilliseconds()};");
        }

        text.Append('|');
        foreach (var tainted in (await _ca.ListTaintedAsync(cancellationToken).ConfigureAwait(false)).Select(t => t.Id).Order(StringComparer.Ordinal))
        {
            text.Append(tainted).Append(';');
        }

        // An approval, a revocation or a review date passing changes what agents receive.
        if (_withheld is not null)
        {
            text.Append("|withheld=");
            foreach (var td in (await _withheld.ListAsync(cancellationToken).ConfigureAwait(false)).Select(t => t.Name).Order(StringComparer.Ordinal))
            {
                text.Append(td).Append(';');
            }
        }

        text.Append(CultureInfo.InvariantCulture, $"|policy={await _store.GetPolicyVersionAsync(cancellationToken).ConfigureAwait(false)}");

        var version = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
        TaskCompletionSource? fire = null;
        lock (_gate)
        {
            if (!string.Equals(version, _version, StringComparison.Ordinal))
            {
                _version = version;
                fire = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        fire?.TrySetResult();
    }
}
