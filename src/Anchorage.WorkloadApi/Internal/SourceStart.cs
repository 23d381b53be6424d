namespace Anchorage.WorkloadApi.Internal;

/// <summary>How every source's <c>CreateAsync</c> hands out a source: only once it holds its first update.</summary>
internal static class SourceStart
{
    /// <summary>
    /// Waits until <paramref name="source"/> holds its first update and returns it; disposes it
    /// (stopping its watch) when the wait fails or is cancelled, so a failed create leaks nothing.
    /// </summary>
    public static async Task<TSource> WhenUpdatedAsync<TSource>(
        TSource source, Func<TSource, CancellationToken, Task> waitUntilUpdated, CancellationToken cancellationToken)
        where TSource : IAsyncDisposable
    {
        try
        {
            await waitUntilUpdated(source, cancellationToken).ConfigureAwait(false);
            return source;
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
