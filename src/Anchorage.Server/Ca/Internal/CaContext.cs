using Anchorage.Foundation.Audit;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Ca.Internal;

/// <summary>What every part of the CA shares: its options, the datastore, this server's keys, the clock, the log and the audit trail.</summary>
internal sealed class CaContext(CaManagerOptions options, IDataStore store, IKeyManager keys, TimeProvider time, ILogger logger)
{
    public CaManagerOptions Options => options;

    public IDataStore Store => store;

    public IKeyManager Keys => keys;

    public TimeProvider Time => time;

    public ILogger Logger => logger;

    public TrustDomain TrustDomain => options.TrustDomain;

    public string ServerId => options.ServerId;

    /// <summary><c>x509</c> or <c>jwt</c>, as messages and logs name a kind.</summary>
    public static string Name(AuthorityKind kind) => kind == AuthorityKind.X509 ? "x509" : "jwt";

    /// <summary>True when this server owns the record (and so its key).</summary>
    public bool IsMine(AuthorityRecord record) => string.Equals(record.ServerId, ServerId, StringComparison.Ordinal);

    /// <summary>One audit record per journal change this server made, in the order made.</summary>
    public void AuditAuthority(string change, AuthorityRecord record, string? detail = null) =>
        options.Audit?.Write(new AuditRecord
        {
            Time = time.GetUtcNow(),
            Kind = AuditKinds.Authority,
            Decision = change,
            TrustDomain = TrustDomain.Name,
            Authority = record.Id,
            AuthorityKind = Name(record.Kind),
            ServerId = record.ServerId,
            Detail = detail,
        });
}
