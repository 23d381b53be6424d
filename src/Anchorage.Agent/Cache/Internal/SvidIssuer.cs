using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Node;
using Anchorage.Protos.Agent.V1;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Cache.Internal;

/// <summary>Gets workload X.509-SVIDs from the server for the entries that need one: the issuing half of <see cref="CacheSynchronizer"/>.</summary>
internal sealed class SvidIssuer(NodeSession session, TimeProvider time, ILogger logger)
{
    /// <summary>
    /// Asks for a new SVID for every entry of <paramref name="state"/> that has none, changed,
    /// reached its renewal time, or was signed by a <paramref name="tainted"/> authority, in batches
    /// of <see cref="CacheSynchronizer.BatchSize"/>; a refused entry is logged and keeps what it held.
    /// </summary>
    public async Task<CacheState> IssueAsync(CacheState state, IReadOnlySet<string> tainted, Action<bool>? issued, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var due = new List<CachedEntry>();
        foreach (var entry in state.Entries.Values)
        {
            if (!state.Svids.TryGetValue(entry.EntryId, out var held)
                || held.EntryRevision != entry.Revision
                || now >= held.RenewAt
                || held.AuthorityIds.Any(tainted.Contains))
            {
                due.Add(entry);
            }
        }

        if (due.Count == 0)
        {
            return state;
        }

        var svids = state.Svids.ToBuilder();
        foreach (var batch in due.Chunk(CacheSynchronizer.BatchSize))
        {
            var keys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
            try
            {
                var request = new BatchNewX509SvidRequest();
                foreach (var entry in batch)
                {
                    var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                    keys[entry.EntryId] = key;
                    request.Params.Add(new NewX509SvidParams { EntryId = entry.EntryId, Csr = ByteString.CopyFrom(NodeSession.CreateCsr(key)) });
                }

                var response = await session.Client.BatchNewX509SvidAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
                foreach (var result in response.Results)
                {
                    if (!keys.TryGetValue(result.EntryId, out var key) || !state.Entries.TryGetValue(result.EntryId, out var entry))
                    {
                        continue;
                    }

                    if (result.Svid is null)
                    {
                        CacheLog.SvidRefused(logger, result.EntryId, (StatusCode)result.ErrorCode, result.Error);
                        continue;
                    }

                    try
                    {
                        var svid = NodeSession.ToSvid(result.Svid, key, string.IsNullOrEmpty(entry.Proto.Hint) ? null : entry.Proto.Hint);
                        if (svid.Id != entry.Id)
                        {
                            CacheLog.SvidRefused(logger, result.EntryId, StatusCode.Internal, $"the server issued {svid.Id} for an entry of {entry.Id}");
                            continue;
                        }

                        var rotated = svids.ContainsKey(entry.EntryId);
                        svids[entry.EntryId] = new CachedSvid(svid, entry.Revision, RenewAt(svid.Leaf), AuthorityIds(svid.Certificates));
                        CacheLog.SvidIssued(logger, entry.EntryId, svid.Id, svid.Leaf.NotAfter, rotated);
                        issued?.Invoke(rotated);
                    }
                    catch (RpcException e)
                    {
                        CacheLog.SvidRefused(logger, result.EntryId, e.StatusCode, e.Status.Detail);
                    }
                }
            }
            finally
            {
                foreach (var key in keys.Values)
                {
                    key.Dispose();
                }
            }
        }

        return state with { Svids = svids.ToImmutable() };
    }

    // Half the lifetime, plus up to a tenth of it at random, so that the SVIDs of a fleet issued
    // together do not all come back to the server in the same second.
    private static DateTimeOffset RenewAt(X509Certificate2 leaf)
    {
        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
        var lifetime = new DateTimeOffset(leaf.NotAfter.ToUniversalTime()) - notBefore;
        var jitterTicks = lifetime.Ticks / 10 <= 0 ? 0 : RandomNumberGenerator.GetInt32((int)Math.Min(lifetime.Ticks / 10, int.MaxValue));
        return notBefore + (lifetime / 2) + TimeSpan.FromTicks(jitterTicks);
    }

    /// <summary>The key ids of the authorities that signed <paramref name="chain"/> (AKI of each, SKI of each issuer).</summary>
    public static List<string> AuthorityIds(IReadOnlyList<X509Certificate2> chain)
    {
        var ids = new List<string>();
        foreach (var certificate in chain)
        {
            foreach (var extension in certificate.Extensions)
            {
                switch (extension)
                {
                    case X509AuthorityKeyIdentifierExtension aki when aki.KeyIdentifier is { } keyId:
                        ids.Add(Convert.ToHexStringLower(keyId.Span));
                        break;
                    case X509SubjectKeyIdentifierExtension ski when !ReferenceEquals(certificate, chain[0]) && ski.SubjectKeyIdentifier is { } id:
                        ids.Add(id.ToLowerInvariant());
                        break;
                }
            }
        }

        return ids;
    }
}
