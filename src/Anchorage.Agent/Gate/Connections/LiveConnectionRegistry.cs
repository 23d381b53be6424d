using System.Collections.Concurrent;
using System.Globalization;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Attestation.Internal;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Policy;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate.Connections;

/// <summary>
/// The gate's live, allowed connections, decided again whenever the policy or the cache changes:
/// the policy at that moment, the local process's identity, and the peer's chain verified again
/// (at its handshake time) with the bundles the process sees now. With closeOnRevoke the ones no
/// longer allowed are closed; without, each is audited once as kept open.
/// Every second it also looks at each connection's process (issue 10 item 6): one that exited,
/// or exec'd into another executable than the one that connected (device and inode: the
/// recorded one in kernel mode, the one pinned at accept in fallback mode), loses its identity,
/// so the connection is closed with <c>identity-removed</c> (the close record repeats the
/// connect-time facts of the allow record).
/// </summary>
internal sealed class LiveConnectionRegistry
{
    private readonly ConcurrentDictionary<string, GateConnection> _live = new(StringComparer.Ordinal);
    private readonly Lock _recheck = new();
    private readonly WorkloadCache _cache;
    private readonly IPolicySource _policy;
    private readonly X509SvidVerifier _verifier;

    // Per peer chain (a tunnel's streams share one): the bundle instance and time it last verified
    // against. Verification is a function of chain, bundle and time, and bundles are immutable, so
    // the same three give the same answer without another signature check; a new bundle (a
    // revocation, a rotation) is another instance and is verified. Weak keys: no bound needed
    // beyond the chains still in use.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2>, VerifiedAgainst> _verified = new();

    private sealed record VerifiedAgainst(X509Bundle Bundle, DateTimeOffset At);
    private readonly GateAudit _audit;
    private readonly ILogger _logger;
    private readonly bool _closeOnRevoke;
    private readonly TimeProvider _time;
    private ITimer? _processWatch;
    private int _watching;

    public LiveConnectionRegistry(
        WorkloadCache cache, IPolicySource policy, X509SvidVerifier verifier, GateAudit audit, bool closeOnRevoke, ILogger logger,
        TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _cache = cache;
        _policy = policy;
        _verifier = verifier;
        _audit = audit;
        _closeOnRevoke = closeOnRevoke;
        _logger = logger;
    }

    /// <summary>A connection with no byte either way for this long is closed (<see cref="GateReasons.IdleTimeout"/>); looked at every <see cref="ProcessWatchPeriod"/>.</summary>
    public TimeSpan IdleTimeout { get; init; } = Config.GateOptions.DefaultIdleTimeout;

    /// <summary>How many connections are registered.</summary>
    public int Count => _live.Count;

    /// <summary>Audits the current policy and bundles and re-checks on every change from now on.</summary>
    public void StartWatching()
    {
        if (Interlocked.Exchange(ref _watching, 1) != 0)
        {
            return;
        }

        _audit.Bundles(_cache.State);
        _audit.PolicyInForce(_policy);
        _cache.Changed += OnCacheChanged;
        _policy.Changed += OnPolicyChanged;
        _processWatch = _time.CreateTimer(static s => ((LiveConnectionRegistry)s!).CheckProcesses(), this, ProcessWatchPeriod, ProcessWatchPeriod);
    }

    /// <summary>How often live connections' processes are looked at.</summary>
    public static TimeSpan ProcessWatchPeriod { get; } = TimeSpan.FromSeconds(1);

    /// <summary>Closes (identity-removed) the connections whose process exited or exec'd another binary, and (idle-timeout) those idle for <see cref="IdleTimeout"/>.</summary>
    public void CheckProcesses()
    {
        lock (_recheck)
        {
            foreach (var connection in _live.Values)
            {
                bool changed;
                try
                {
                    changed = ProcessChanged(connection.Local.Peer);
                }
                catch (ObjectDisposedException)
                {
                    // The connection ended meanwhile and released its pidfd (this ran on a timer
                    // thread: the exception would have ended the process).
                    continue;
                }

                if (changed && connection.TryClose(GateReasons.IdentityRemoved))
                {
                    GateLog.ClosedByChange(_logger, connection.Id, GateReasons.IdentityRemoved);
                }
                else if (connection.IdleFor(_time) >= IdleTimeout && connection.TryClose(GateReasons.IdleTimeout))
                {
                    GateLog.ClosedByChange(_logger, connection.Id, GateReasons.IdleTimeout);
                }
            }
        }
    }

    /// <summary>Stops re-checking on changes.</summary>
    public void StopWatching()
    {
        if (Interlocked.Exchange(ref _watching, 0) == 0)
        {
            return;
        }

        _cache.Changed -= OnCacheChanged;
        _policy.Changed -= OnPolicyChanged;
        _processWatch?.Dispose();
        _processWatch = null;
    }

    private static bool ProcessChanged(PeerProcess peer)
    {
        if (!PeerCredentialsReader.IsAlive(peer))
        {
            return true;
        }

        FileIdentity current;
        try
        {
            current = LinuxNative.StatxIdentity($"/proc/{peer.ProcessId.ToString(CultureInfo.InvariantCulture)}/exe");
        }
        catch (IOException)
        {
            return true;
        }

        if (peer.ConnectFacts is { } facts)
        {
            var (major, minor) = facts.ExecutableDeviceNumbers;
            return current.DevMajor != major || current.DevMinor != minor || current.Inode != facts.ExecutableInode;
        }

        return peer.PinnedExecutable is { } pinned && !FallbackChecks.SameFile(pinned, current);
    }

    /// <summary>Registers <paramref name="connection"/> and checks it at once: a change published between its decision and now would otherwise miss it.</summary>
    public void Register(GateConnection connection)
    {
        _live[connection.Id] = connection;
        Check(connection);
    }

    public void Unregister(GateConnection connection) => _live.TryRemove(connection.Id, out _);

    /// <summary>Closes every registered connection for <paramref name="reason"/>.</summary>
    public void CloseAll(string reason)
    {
        foreach (var connection in _live.Values)
        {
            connection.TryClose(reason);
        }
    }

    /// <summary>Re-checks every live connection against the current policy and cache now (what a change does).</summary>
    public void Recheck()
    {
        lock (_recheck)
        {
            foreach (var connection in _live.Values)
            {
                Check(connection);
            }
        }
    }

    private void OnCacheChanged(object? sender, EventArgs e) =>
        ThreadPool.UnsafeQueueUserWorkItem(
            s =>
            {
                lock (s._recheck)
                {
                    // Serialized with re-checks, so bundle records come out in publication order.
                    s._audit.Bundles(s._cache.State);
                }

                s.Recheck();
            },
            this,
            preferLocal: false);

    private void OnPolicyChanged(object? sender, EventArgs e)
    {
        // Audited on the source's thread, as it raises the event: every version gets its record, even
        // when the next one follows before the queued re-check runs.
        _audit.PolicyInForce(_policy);
        ThreadPool.UnsafeQueueUserWorkItem(s => s.Recheck(), this, preferLocal: false);
    }

    /// <summary>Decides <paramref name="connection"/> again; closes it when no longer allowed.</summary>
    private void Check(GateConnection connection)
    {
        var reason = Decide(connection);
        if (reason is null)
        {
            return;
        }

        if (!_closeOnRevoke)
        {
            // Kept open as configured; said once in the audit trail.
            if (Interlocked.Exchange(ref connection.ReportedStale, 1) == 0)
            {
                _audit.KeptOpen(connection, reason);
            }

            return;
        }

        if (connection.TryClose(reason))
        {
            GateLog.ClosedByChange(_logger, connection.Id, reason);
        }
    }

    /// <summary>Why <paramref name="connection"/> is no longer allowed; null when it still is.</summary>
    private string? Decide(GateConnection connection)
    {
        if (!_policy.Current.Decide(connection.Request).Allowed)
        {
            return GateReasons.PolicyChanged;
        }

        var identity = _cache.Resolve(connection.Local.CallerKey, connection.Local.Selectors);
        if (identity is null || !identity.X509Svids.Any(s => s.Id == connection.LocalId))
        {
            return GateReasons.IdentityRemoved;
        }

        if (_verified.TryGetValue(connection.PeerChain, out var last)
            && identity.Bundles.TryGetX509Bundle(connection.PeerId.TrustDomain, out var current)
            && ReferenceEquals(last.Bundle, current) && last.At == connection.HandshakeAt)
        {
            return null;
        }

        try
        {
            var verified = _verifier.Verify(connection.PeerChain, identity.Bundles, connection.HandshakeAt);
            if (identity.Bundles.TryGetX509Bundle(verified.Id.TrustDomain, out var used))
            {
                _verified.AddOrUpdate(connection.PeerChain, new VerifiedAgainst(used, connection.HandshakeAt));
            }

            return null;
        }
        catch (BundleNotFoundException)
        {
            return GateReasons.BundleRemoved;
        }
        catch (SpiffeException)
        {
            return GateReasons.AuthorityRevoked;
        }
    }
}
