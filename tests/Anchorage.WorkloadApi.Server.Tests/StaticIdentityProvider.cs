using System.Security.Cryptography;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;

namespace Anchorage.WorkloadApi.Server.Tests;

/// <summary>
/// TEST DOUBLE for <see cref="IWorkloadIdentityProvider"/>: every caller gets the same snapshot,
/// which the test replaces with <see cref="Update"/> or withdraws with <see cref="Deny"/>. The
/// real provider (the agent's workload cache, attesting callers by their socket peer) comes later.
/// </summary>
public sealed class StaticIdentityProvider : IWorkloadIdentityProvider, IDisposable
{
    public const string Caller = "test-caller";

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly TrustDomain _trustDomain;
    private CancellationTokenSource _changed = new();
    private WorkloadIdentity? _current;

    public StaticIdentityProvider(TrustDomain trustDomain, JwtSigningKey jwtKey, TimeProvider time)
    {
        _trustDomain = trustDomain;
        JwtKey = jwtKey;
        _time = time;
    }

    public JwtSigningKey JwtKey { get; }

    /// <summary>Publishes a new snapshot and wakes every open stream.</summary>
    public void Update(IEnumerable<X509Svid> svids, BundleSet bundles)
    {
        lock (_lock)
        {
            var next = new CancellationTokenSource();
            _current = new WorkloadIdentity(Caller, _trustDomain, svids, bundles, next.Token);
            Swap(next);
        }
    }

    /// <summary>Withdraws the identity: callers are denied from now on.</summary>
    public void Deny()
    {
        lock (_lock)
        {
            _current = null;
            Swap(new CancellationTokenSource());
        }
    }

    public ValueTask<WorkloadIdentity?> ResolveAsync(ServerCallContext context, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_current);
        }
    }

    public ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity,
        IReadOnlyList<SpiffeId> spiffeIds,
        IReadOnlyList<string> audience,
        CancellationToken cancellationToken)
    {
        var result = new List<JwtSvid>();
        foreach (var id in spiffeIds)
        {
            var hint = identity.X509Svids.First(s => s.Id == id).Hint;
            var token = JwtSvid.Mint(id, audience, _time.GetUtcNow().AddMinutes(5), JwtKey, _time);
            result.Add(JwtSvid.ParseInsecure(token, audience[0], _time).WithHint(hint));
        }

        return ValueTask.FromResult<IReadOnlyList<JwtSvid>>(result);
    }

    public void Dispose() => _changed.Dispose();

    private void Swap(CancellationTokenSource next)
    {
        // Publish first, then fire: a woken stream must already see the new snapshot.
        var previous = _changed;
        _changed = next;
        previous.Cancel();
        previous.Dispose();
    }

    /// <summary>A fresh P-256 JWT signing key.</summary>
    public static JwtSigningKey NewJwtKey(string keyId) => new(keyId, ECDsa.Create(ECCurve.NamedCurves.nistP256));
}
