using System.Collections.Concurrent;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Tests.Hosting;
using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// TEST DOUBLE for <see cref="IWorkloadCache"/> holding one registration entry: a caller whose
/// selectors include every one of <paramref name="entry"/> gets the SVID of
/// spiffe://example.org/victim, anyone else nothing. Records every lookup.
/// </summary>
internal sealed class EntryCache(params Selector[] entry) : IWorkloadCache
{
    private static readonly TestSvid Leaf = TestWorkloadCache.Ca.IssueLeaf(new TestLeafOptions { Path = "/victim" });

    public ConcurrentQueue<Selector[]> Lookups { get; } = new();

    public WorkloadIdentity? Resolve(string caller, IReadOnlyCollection<Selector> selectors)
    {
        Lookups.Enqueue([.. selectors]);
        return entry.All(selectors.Contains)
            ? new WorkloadIdentity(caller, TestWorkloadCache.Ca.TrustDomain, [new X509Svid(Leaf.Chain, Leaf.Key, "victim")], BundleSet.Empty.With(TestWorkloadCache.Ca.Bundle()))
            : null;
    }

    public ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity, IReadOnlyList<SpiffeId> spiffeIds, IReadOnlyList<string> audience, CancellationToken cancellationToken) =>
        throw new RpcException(new Status(StatusCode.Unavailable, "no server in this test"));
}
