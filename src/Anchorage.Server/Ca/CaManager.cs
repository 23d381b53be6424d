using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Anchorage.Foundation.Ids;
using Anchorage.Server.Ca.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Ca;

/// <summary>
/// The trust domain's CA on one server: keeps this server's X.509 and JWT authorities in the
/// datastore's journal and their keys in the <see cref="IKeyManager"/>, rotates them on a timer
/// (<see cref="RotationPlanner"/>), publishes the bundle of every server's authorities, signs SVIDs
/// with the active authorities, holds the server's own X.509-SVID, and carries out the operator's
/// prepare / activate / taint / revoke.
/// </summary>
/// <remarks>
/// <para><b>The journal is the source of truth.</b> Every operation re-reads it, and the rotation
/// check re-reads it every <see cref="CaManagerOptions.RotationCheckInterval"/>, so changes made by
/// another server on the same datastore reach this server's bundle within one interval. All
/// operations that change state run one at a time.</para>
/// <para><b>Crash safety.</b> A key is written (fsync + rename) before the journal names it; an
/// authority is journalled as prepared and the bundle holding it is published before it is
/// journalled as active; the journal says active before the key signs anything. So a SIGKILL
/// between any two steps leaves at worst an orphan key file, never a journal entry without a key
/// nor an active authority missing from the bundle; the next start finishes the rotation.</para>
/// <para><b>A journal entry whose key is missing or unusable</b> (a lost or corrupt key file) is
/// logged as an error and, when it was active or prepared, demoted to old. It is never deleted at
/// start: deleting would drop a still-trusted authority from the bundle and break every SVID it
/// signed. As old it stays in the bundle until it expires (or an operator taints and revokes it)
/// and signs nothing; with no active authority left the planner prepares and activates a new one.</para>
/// <para><b>Chains.</b> A self-signed authority is itself the bundle's root, so an SVID's chain is
/// the leaf alone (as SPIRE); an upstream-signed authority's chain is the leaf, the authority's CA
/// certificate and the upstream intermediates, up to but excluding the upstream root, which is in
/// the bundle instead of the CA certificate.</para>
/// <para><b>Parts</b> (SPIRE's shape): this type is the front (public API, the lock, events); the
/// journal read (<c>AuthorityJournal</c>), the loaded keys and active authorities
/// (<c>AuthoritySlots</c>), the bundle (<c>BundlePublisher</c>), signing (<c>SvidSigner</c>), the
/// server's own SVID (<c>ServerSvidRenewer</c>), the lifecycle steps (<c>AuthorityLifecycle</c>),
/// the operator's verbs (<c>AuthorityVerbs</c>) and the rotation loop calling the steps through
/// <c>IAuthorityRotation</c> (<c>CaRotator</c>) each do one job, in <c>Ca/Internal</c>.</para>
/// <para><b>Revocation</b> (as SPIRE): an old authority must be tainted before it is revoked, so
/// the holders of the SVIDs it signed re-issue before the bundle stops trusting it; a prepared
/// authority may be revoked at once (it has signed nothing); the active one never.</para>
/// </remarks>
public sealed class CaManager : ICertificateAuthority, IX509BundleSource, IAsyncDisposable
{
    private readonly CaContext _ca;
    private readonly AuthorityJournal _journal;
    private readonly AuthoritySlots _slots;
    private readonly BundlePublisher _publisher;
    private readonly SvidSigner _signer;
    private readonly ServerSvidRenewer _serverSvid;
    private readonly AuthorityLifecycle _lifecycle;
    private readonly AuthorityVerbs _verbs;
    private readonly CaRotator _rotator;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    private CaManager(CaManagerOptions options, IDataStore store, IKeyManager keys, TimeProvider time, ILogger logger)
    {
        _ca = new CaContext(options, store, keys, time, logger);
        ServerSpiffeId = AnchorageIds.ServerId(options.TrustDomain);
        var jwtFactory = new JwtAuthorityFactory(time);
        _journal = new AuthorityJournal(_ca);
        _slots = new AuthoritySlots(_ca, jwtFactory);
        _publisher = new BundlePublisher(_ca);
        _signer = new SvidSigner(_ca, _slots);
        _serverSvid = new ServerSvidRenewer(_ca, _slots, ServerSpiffeId);
        _lifecycle = new AuthorityLifecycle(_ca, _journal, _slots, _publisher, new X509AuthorityFactory(options.TrustDomain, time), jwtFactory);
        _verbs = new AuthorityVerbs(_ca, _journal, _lifecycle, _serverSvid);
        _rotator = new CaRotator(time, options.RotationCheckInterval, CheckRotationAsync, logger, _stopping.Token);
    }

    /// <summary>
    /// Raised after the published bundle changes (a new <c>spiffe_sequence</c>), whether this server
    /// or another one sharing the datastore changed it; the argument is the bundle as stored.
    /// Raised outside the manager's lock; a listener that throws is logged and ignored.
    /// </summary>
    public event EventHandler<StoredBundle>? BundleChanged;

    /// <summary>
    /// Raised after the journal changes in a way the bundle does not show (an activation, a taint),
    /// so the agent API can push the tainted authorities (<see cref="ListTaintedAsync"/>).
    /// </summary>
    public event EventHandler? AuthoritiesChanged;

    /// <inheritdoc/>
    public TrustDomain TrustDomain => _ca.TrustDomain;

    /// <summary>This server's id: the owner of the keys in its key manager.</summary>
    public string ServerId => _ca.ServerId;

    /// <summary>The server's own SPIFFE ID, <c>spiffe://&lt;trust domain&gt;/anchorage/server</c>.</summary>
    public SpiffeId ServerSpiffeId { get; }

    /// <summary>
    /// The server's own X.509-SVID (<see cref="ServerSpiffeId"/>; key in memory only), signed by the
    /// active X.509 authority, re-issued at half its life and whenever the active authority changes.
    /// </summary>
    public IX509SvidSource ServerSvid => _serverSvid.Source;

    /// <summary>The active X.509 authority of this server, or null (not started, or no usable key).</summary>
    public AuthorityRecord? ActiveX509Authority => _slots.ActiveX509?.Record;

    /// <summary>The active JWT authority of this server, or null (not started, or no usable key).</summary>
    public AuthorityRecord? ActiveJwtAuthority => _slots.ActiveJwt?.Record;

    /// <summary>The check the timer started last (tests await it after advancing a fake clock).</summary>
    internal Task LastCheck => _rotator.LastCheck;

    /// <summary>
    /// Starts the CA: reads this server's authorities from the journal, loads their keys, completes
    /// or starts the rotation (a fresh server prepares, publishes and activates one authority of
    /// each kind), publishes the bundle, issues the server SVID, and starts the rotation timer.
    /// </summary>
    /// <param name="options">Trust domain, server id, key type and lifetimes.</param>
    /// <param name="store">The datastore holding the journal and the bundle (borrowed).</param>
    /// <param name="keys">This server's key manager (borrowed).</param>
    /// <param name="time">The clock and the timer.</param>
    /// <param name="logger">Receives the CA events (3000-3099).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="ArgumentException">The options are not usable (empty trust domain or server id, a lifetime that is not positive).</exception>
    /// <exception cref="DataStoreUnavailableException">The datastore cannot be reached.</exception>
    /// <exception cref="InvalidOperationException">The upstream CA has expired, or no authority could be activated.</exception>
    public static async Task<CaManager> StartAsync(
        CaManagerOptions options, IDataStore store, IKeyManager keys, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        Validate(options);

        var manager = new CaManager(options, store, keys, time, logger);
        try
        {
            await manager.RunExclusiveAsync(
                async ct =>
                {
                    await CaRotator.RotateAsync(manager._lifecycle, ct).ConfigureAwait(false);
                    if (manager._slots.ActiveX509 is null || manager._slots.ActiveJwt is null)
                    {
                        throw new InvalidOperationException("the ca could not activate an x509 and a jwt authority");
                    }

                    manager._serverSvid.Renew(force: true);
                    return true;
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await manager.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        CaManagerLog.Started(logger, options.ServerId, options.TrustDomain.Name, manager._slots.ActiveX509!.Record.Id, manager._slots.ActiveJwt!.Record.Id);
        manager._rotator.Start();
        return manager;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The TTL defaults to <see cref="CaManagerOptions.X509SvidTtl"/> and is capped at the active
    /// authority's lifetime / 6 and at its notAfter. The chain is the leaf alone for a self-signed
    /// authority, else the leaf, the authority's CA certificate and the upstream intermediates.
    /// </remarks>
    public Task<IssuedX509Svid> SignX509SvidAsync(
        SpiffeId id, ReadOnlyMemory<byte> csr, IReadOnlyList<string> dnsNames, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return Task.FromResult(_signer.SignX509(id, csr.Span, dnsNames, ttl));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The TTL defaults to <see cref="CaManagerOptions.JwtSvidTtl"/> and is capped at the active
    /// authority's lifetime / 6 and at its notAfter; the expiry is in whole seconds, as the token's <c>exp</c>.
    /// </remarks>
    /// <exception cref="ArgumentException">The ID is empty or not in this trust domain, or an audience is empty.</exception>
    /// <exception cref="InvalidOperationException">No active JWT authority.</exception>
    public Task<IssuedJwtSvid> MintJwtSvidAsync(SpiffeId id, IReadOnlyList<string> audience, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return Task.FromResult(_signer.MintJwt(id, audience, ttl));
    }

    /// <summary>
    /// The X.509 part of the bundle this manager last published or read, for its own trust domain
    /// only (TLS peers of the agent API are agents of this trust domain).
    /// </summary>
    public bool TryGetX509Bundle(TrustDomain trustDomain, [NotNullWhen(true)] out X509Bundle? bundle)
    {
        bundle = trustDomain == TrustDomain ? _publisher.Current?.Bundle.ToX509Bundle() : null;
        return bundle is not null;
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">No bundle has been published yet.</exception>
    public async Task<StoredBundle> GetBundleAsync(CancellationToken cancellationToken)
    {
        var stored = await _ca.Store.GetBundleAsync(TrustDomain, cancellationToken).ConfigureAwait(false);
        return stored ?? _publisher.Current ?? throw new InvalidOperationException($"the bundle of {TrustDomain} is not published yet");
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(AuthorityKind kind, CancellationToken cancellationToken)
    {
        var all = await _ca.Store.ListAuthoritiesAsync(cancellationToken).ConfigureAwait(false);
        return [.. AuthorityJournal.OldestFirst(all.Where(a => a.Kind == kind))];
    }

    /// <inheritdoc/>
    public async Task<ImmutableArray<AuthorityRecord>> ListTaintedAsync(CancellationToken cancellationToken)
    {
        var all = await _ca.Store.ListAuthoritiesAsync(cancellationToken).ConfigureAwait(false);
        return [.. AuthorityJournal.OldestFirst(all.Where(a => a.Tainted))];
    }

    /// <inheritdoc/>
    /// <remarks>The new authority is journalled as prepared and the bundle holding it is published before this returns.</remarks>
    /// <exception cref="InvalidOperationException">This server already has a prepared authority of <paramref name="kind"/>.</exception>
    public Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken cancellationToken) =>
        RunExclusiveAsync(ct => _verbs.PrepareAsync(kind, ct), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>With no id, this server's prepared authority. The bundle holding it is published before it signs.</remarks>
    /// <exception cref="DataStoreNotFoundException">No authority of <paramref name="kind"/> has the id.</exception>
    /// <exception cref="InvalidOperationException">Nothing is prepared, or the authority is not this server's prepared one.</exception>
    public Task<AuthorityRecord> ActivateAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
        RunExclusiveAsync(ct => _verbs.ActivateAsync(kind, id, ct), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// With no id, this server's most recent old authority that is not tainted. Any server's old
    /// authority may be named. The bundle does not change (a taint is not part of it); listeners of
    /// <see cref="AuthoritiesChanged"/> are told.
    /// </remarks>
    /// <exception cref="DataStoreNotFoundException">No authority of <paramref name="kind"/> has the id.</exception>
    /// <exception cref="InvalidOperationException">The authority is active, prepared or already tainted, or there is no old one.</exception>
    public Task<AuthorityRecord> TaintAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
        RunExclusiveAsync(ct => _verbs.TaintAsync(kind, id, ct), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// With no id, this server's oldest tainted authority. The record leaves the journal, its key is
    /// deleted when this server owns it, and the bundle without it is published (its sequence
    /// increases). An old authority must be tainted first; a prepared one may be revoked at once.
    /// </remarks>
    /// <exception cref="DataStoreNotFoundException">No authority of <paramref name="kind"/> has the id.</exception>
    /// <exception cref="InvalidOperationException">The authority is active, or old and not tainted, or there is no tainted one.</exception>
    public Task<AuthorityRecord> RevokeAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
        RunExclusiveAsync(ct => _verbs.RevokeAsync(kind, id, ct), cancellationToken);

    /// <summary>
    /// Runs one rotation check now, as the timer does every <see cref="CaManagerOptions.RotationCheckInterval"/>:
    /// re-reads the journal, retires, prepares and activates as planned, publishes the bundle and
    /// renews the server SVID when due.
    /// </summary>
    /// <exception cref="DataStoreUnavailableException">The datastore cannot be reached.</exception>
    public Task CheckRotationAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync(
            async ct =>
            {
                try
                {
                    await CaRotator.RotateAsync(_lifecycle, ct).ConfigureAwait(false);
                }
                finally
                {
                    // The server SVID does not need the datastore: keep it fresh even when the check failed.
                    _serverSvid.Renew(force: false);
                }

                return true;
            },
            cancellationToken);

    /// <summary>Stops the timer, waits for a running check, and disposes the keys held in memory. The store and key manager are not disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _rotator.DisposeAsync().ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _slots.Dispose();
            _serverSvid.Dispose();
        }
        finally
        {
            _gate.Release();
        }

        _stopping.Dispose();
        CaManagerLog.Stopped(_ca.Logger, ServerId);
    }

    private static void Validate(CaManagerOptions options)
    {
        if (options.TrustDomain.IsEmpty)
        {
            throw new ArgumentException("ca trust domain is empty", nameof(options));
        }

        if (string.IsNullOrEmpty(options.ServerId))
        {
            throw new ArgumentException("ca server id is empty", nameof(options));
        }

        (string Name, TimeSpan Value)[] durations =
        [
            ("ca ttl", options.CaTtl),
            ("x509 svid ttl", options.X509SvidTtl),
            ("jwt svid ttl", options.JwtSvidTtl),
            ("rotation check interval", options.RotationCheckInterval),
        ];
        foreach (var (name, value) in durations)
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentException($"{name} must be positive", nameof(options));
            }
        }

        if (options.RefreshHint < TimeSpan.Zero)
        {
            throw new ArgumentException("bundle refresh hint must not be negative", nameof(options));
        }
    }

    private async Task<T> RunExclusiveAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        await _gate.WaitAsync(linked.Token).ConfigureAwait(false);
        try
        {
            return await operation(linked.Token).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
            RaisePendingEvents();
        }
    }

    private void RaisePendingEvents()
    {
        var bundle = _publisher.TakePending();
        var authorities = _journal.TakeChanged();
        if (bundle is not null)
        {
            Notify(nameof(BundleChanged), () => BundleChanged?.Invoke(this, bundle));
        }

        if (authorities)
        {
            Notify(nameof(AuthoritiesChanged), () => AuthoritiesChanged?.Invoke(this, EventArgs.Empty));
        }
    }

    private void Notify(string name, Action raise)
    {
        try
        {
            raise();
        }
#pragma warning disable CA1031 // a listener's failure must not undo a completed CA operation
        catch (Exception ex)
#pragma warning restore CA1031
        {
            CaManagerLog.ListenerFailed(_ca.Logger, name, ex);
        }
    }
}
