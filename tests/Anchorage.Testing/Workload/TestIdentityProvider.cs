using System.Security.Cryptography;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;

namespace Anchorage.Testing.Workload;

/// <summary>
/// TEST DOUBLE for <see cref="IWorkloadIdentityProvider"/> (the real one is the agent's workload
/// cache, attesting callers by their socket peer): every caller gets the snapshot the test last
/// published, is denied, or gets a chosen gRPC failure. Counts resolutions so a test can prove a
/// client did (or did not) call again.
/// </summary>
public sealed class TestIdentityProvider : IWorkloadIdentityProvider, IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly TrustDomain _trustDomain;
    private CancellationTokenSource _changed = new();
    private WorkloadIdentity? _current;
    private StatusCode? _failure;
    private int _calls;

    /// <param name="jwtKey">The key JWT-SVIDs are minted with (a fresh P-256 key "jwt-1" when null).</param>
    public TestIdentityProvider(TrustDomain trustDomain, TimeProvider time, JwtSigningKey? jwtKey = null)
    {
        _trustDomain = trustDomain;
        _time = time;
        JwtKey = jwtKey ?? NewJwtKey("jwt-1");
    }

    /// <summary>The caller name every resolved identity carries.</summary>
    public const string Caller = "test-caller";

    public JwtSigningKey JwtKey { get; }

    /// <summary>How many times a caller was resolved.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Publishes a new snapshot and wakes every open stream.</summary>
    public void Update(IEnumerable<X509Svid> svids, BundleSet bundles)
    {
        lock (_lock)
        {
            var next = new CancellationTokenSource();
            _current = new WorkloadIdentity(Caller, _trustDomain, svids, bundles, next.Token);
            _failure = null;
            Swap(next);
        }
    }

    /// <summary>From now on, callers get <paramref name="code"/> (PermissionDenied: no identity).</summary>
    public void Fail(StatusCode code)
    {
        lock (_lock)
        {
            _failure = code;
            Swap(new CancellationTokenSource());
        }
    }

    /// <summary>Withdraws the identity: callers are denied (no identity) from now on.</summary>
    public void Deny() => Fail(StatusCode.PermissionDenied);

    public ValueTask<WorkloadIdentity?> ResolveAsync(ServerCallContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        lock (_lock)
        {
            return _failure switch
            {
                null => ValueTask.FromResult(_current),
                StatusCode.PermissionDenied => ValueTask.FromResult<WorkloadIdentity?>(null),
                var code => throw new RpcException(new Status(code.Value, "test failure")),
            };
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

    /// <summary>A fresh P-256 JWT signing key.</summary>
    public static JwtSigningKey NewJwtKey(string keyId) => new(keyId, ECDsa.Create(ECCurve.NamedCurves.nistP256));

    private void Swap(CancellationTokenSource next)
    {
        // Publish first, then fire: a woken stream must already see the new snapshot.
        var previous = _changed;
        _changed = next;
        previous.Cancel();
        previous.Dispose();
    }
}
