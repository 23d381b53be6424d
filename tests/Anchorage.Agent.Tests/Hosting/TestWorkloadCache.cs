using System.Collections.Concurrent;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;

namespace Anchorage.Agent.Tests.Hosting;

/// <summary>
/// TEST DOUBLE for <see cref="IWorkloadCache"/>: a caller whose selectors contain
/// <c>unix:uid:&lt;uid&gt;</c> gets an SVID for spiffe://example.org/workload from a <see cref="TestCa"/>;
/// anyone else (or everyone, after <see cref="Deny"/>) gets null. Records every lookup.
/// </summary>
internal sealed class TestWorkloadCache(uint uid) : IWorkloadCache
{
    public static readonly TestCa Ca = TestCa.CreateRoot("example.org");

    private static readonly TestSvid Leaf = Ca.IssueLeaf(new TestLeafOptions { Path = "/workload" });

    private volatile bool _deny;

    public ConcurrentQueue<(string Caller, Selector[] Selectors)> Lookups { get; } = new();

    public void Deny() => _deny = true;

    public WorkloadIdentity? Resolve(string caller, IReadOnlyCollection<Selector> selectors)
    {
        Lookups.Enqueue((caller, [.. selectors]));
        if (_deny || !selectors.Contains(new Selector("unix", $"uid:{uid}")))
        {
            return null;
        }

        return new WorkloadIdentity(caller, Ca.TrustDomain, [new X509Svid(Leaf.Chain, Leaf.Key, "internal")], BundleSet.Empty.With(Ca.Bundle()));
    }

    public ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity, IReadOnlyList<SpiffeId> spiffeIds, IReadOnlyList<string> audience, CancellationToken cancellationToken) =>
        throw new RpcException(new Status(StatusCode.Unavailable, "no server in this test"));
}
