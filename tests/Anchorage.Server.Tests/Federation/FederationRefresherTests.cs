using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.Bundles;
using Anchorage.Testing.Logging;
using Microsoft.Extensions.Time.Testing;
using Anchorage.Testing.Sockets;

namespace Anchorage.Server.Tests.Federation;

/// <summary>
/// <see cref="FederationRefresher"/> when a relationship is deleted while its fetch runs (the
/// <c>federation delete</c> race): the fetch ends quietly, nothing of the relationship is written back,
/// and the background schedule goes on with the other relationships. Real SQLite; the endpoints
/// refuse connections, so every fetch is a quick, real rejection.
/// </summary>
public sealed class FederationRefresherTests : IAsyncLifetime, IDisposable
{
    private static readonly TrustDomain Gone = TrustDomain.Parse("a-gone.example.net");
    private static readonly TrustDomain Kept = TrustDomain.Parse("b-kept.example.net");
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TempDir _dir = new();
    private readonly LogCapture _log = new();
    private IDataStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = await DataStoreFactory.OpenAsync(DataStoreOptions.ForDataDirectory(_dir.Path), _time, null, None);
        var port = LoopbackPort.Unused();
        foreach (var td in new[] { Gone, Kept })
        {
            await _store.CreateRelationshipAsync(RefusingRelationship.On(td, port, "platform@example.net"), None);
            await _store.SetBundleAsync(new SpiffeBundle(td, [TestAuthorities.Ca(td.Name)], [], sequenceNumber: 3UL), None);
        }
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    public void Dispose()
    {
        _log.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task RefreshNow_RelationshipDeletedWhileFetching_NotFoundAndNothingWrittenBack()
    {
        await using var refresher = Refresher(DeletingStore.Wrap(_store, Gone));

        var e = await Assert.ThrowsAsync<KeyNotFoundException>(() => refresher.RefreshNowAsync(Gone, None));

        Assert.Equal($"no federation relationship with {Gone.Name}", e.Message);
        Assert.Null(await _store.GetRelationshipAsync(Gone, None));
        Assert.Null(await _store.GetBundleAsync(Gone, None));
        Assert.Empty(await _store.ListFetchesAsync(Gone, None));

        // Positive control on the same store: the relationship left alone is refreshed and recorded.
        var state = await refresher.RefreshNowAsync(Kept, None);
        Assert.Equal(1, state.ConsecutiveFailures);
        Assert.Single(await _store.ListFetchesAsync(Kept, None));
    }

    [Fact]
    public async Task Schedule_FirstRelationshipDeletedWhileFetching_NextOneStillRefreshed_LoopKeepsRunning()
    {
        await using var refresher = Refresher(DeletingStore.Wrap(_store, Gone));

        refresher.Start();

        // Listed in trust-domain order: the deleted relationship comes first, so the one after it
        // is only fetched if the deletion did not end the schedule.
        await Eventually.TrueAsync(async () => (await _store.ListFetchesAsync(Kept, None)).Count == 1, "the kept relationship's first fetch");
        Assert.Contains($"federation refresh of {Gone.Name} ended: the relationship was deleted while it ran", _log.Messages(3604));
        Assert.Empty(_log.Messages(3605));

        // The schedule is still alive: the next due fetch of the kept relationship happens too.
        var next = (await _store.GetRelationshipAsync(Kept, None))!.Value.State.NextRefresh!.Value;
        _time.SetUtcNow(next + TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(
            async () =>
            {
                _time.Advance(TimeSpan.FromSeconds(1));
                return (await _store.ListFetchesAsync(Kept, None)).Count == 2;
            },
            "the kept relationship's second fetch");
    }

    private FederationRefresher Refresher(IDataStore store) =>
        new(store, new BundleFetcher(_time), new FederationOptions { RefreshFloor = TimeSpan.FromSeconds(1) }, _time, _log.Logger);

    /// <summary>
    /// The real store, except that reading the victim's bundle (the refresher's last read before it
    /// fetches) first deletes the victim's relationship, as <c>federation delete</c> from another
    /// admin would at that moment.
    /// </summary>
    public class DeletingStore : DispatchProxy
    {
        private IDataStore _inner = null!;
        private TrustDomain _victim;

        public static IDataStore Wrap(IDataStore inner, TrustDomain victim)
        {
            var proxy = Create<IDataStore, DeletingStore>();
            var self = (DeletingStore)(object)proxy;
            self._inner = inner;
            self._victim = victim;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.Name == nameof(IDataStore.GetBundleAsync) && args?[0] is TrustDomain td && td == _victim)
            {
                return DeleteThenRead(td, (CancellationToken)args[1]!);
            }

            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
        }

        private async Task<StoredBundle?> DeleteThenRead(TrustDomain td, CancellationToken cancellationToken)
        {
            var bundle = await _inner.GetBundleAsync(td, cancellationToken);
            Assert.True(await _inner.DeleteRelationshipAsync(td, cancellationToken));
            return bundle;
        }
    }
}
