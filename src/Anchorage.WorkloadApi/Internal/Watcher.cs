namespace Anchorage.WorkloadApi.Internal;

/// <summary>
/// Runs one watch in the background: each update goes to <c>apply</c>; the first one completes
/// <see cref="Ready"/>. A permanent failure before the first update faults <see cref="Ready"/>;
/// after it, the last good state is kept (and the failure recorded).
/// </summary>
internal sealed class Watcher<T> : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;

    private readonly SourceMetrics.Tracker? _metrics;

    public Watcher(Func<CancellationToken, IAsyncEnumerable<T>> watch, Action<T> apply, SourceMetrics.Tracker? metrics = null)
    {
        _metrics = metrics;
        var token = _stop.Token;
        _loop = Task.Run(() => RunAsync(watch, apply, token), CancellationToken.None);
    }

    public Task Ready => _ready.Task;

    public Exception? Failure { get; private set; }

    private int _disposed;

    /// <summary>Stops the watch; safe to call more than once (DI may dispose a source under several registrations).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _metrics?.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping is the expected way out.
        }

        _ready.TrySetException(new ObjectDisposedException("source"));
        _stop.Dispose();
    }

    private async Task RunAsync(Func<CancellationToken, IAsyncEnumerable<T>> watch, Action<T> apply, CancellationToken token)
    {
        try
        {
            await foreach (var item in watch(token).ConfigureAwait(false))
            {
                apply(item);
                _metrics?.Updated();
                _ready.TrySetResult();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Failure = ex;
            _ready.TrySetException(ex);
        }
    }
}
