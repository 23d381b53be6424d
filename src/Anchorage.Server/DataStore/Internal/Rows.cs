using System.Collections.Immutable;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// The one place where rows become records and records become column values, for both backends.
/// Timestamps are UTC unix milliseconds; durations milliseconds; lists JSON arrays of strings.
/// </summary>
internal static class Rows
{
    public const string EntryColumns =
        "id, revision, spiffe_id, parent_id, selectors, x509_svid_ttl_ms, jwt_svid_ttl_ms, federates_with, dns_names, hint, admin, downstream, created_at";

    /// <summary>How many columns <see cref="EntryColumns"/> has.</summary>
    public const int EntryColumnCount = 13;

    public const string NodeColumns =
        "spiffe_id, attestation_type, cert_serial, cert_not_after, selectors, banned, created_at, pending_cert_serial, pending_cert_not_after";

    public const string AuthorityColumns =
        "kind, id, server_id, state, tainted, certificate_der, upstream_chain_der, public_key, not_before, not_after, created_at";

    public const string JoinTokenColumns = "id, secret_hash, expires_at, alias";

    public const string BundleColumns = "trust_domain, document, updated_at";

    // ---- values ----

    public static long ToUnixMs(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMs(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

    /// <summary>The instant as the store keeps it (UTC, whole milliseconds).</summary>
    public static DateTimeOffset Stored(DateTimeOffset value) => FromUnixMs(ToUnixMs(value));

    public static long? ToMs(TimeSpan? value) => value is { } v ? (long)v.TotalMilliseconds : null;

    public static TimeSpan? FromMs(long? value) => value is { } v ? TimeSpan.FromMilliseconds(v) : null;

    public static string AuthorityKindText(AuthorityKind kind) => kind switch
    {
        AuthorityKind.X509 => "x509",
        AuthorityKind.Jwt => "jwt",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown authority kind"),
    };

    public static string AuthorityStateText(AuthorityState state) => state switch
    {
        AuthorityState.Prepared => "prepared",
        AuthorityState.Active => "active",
        AuthorityState.Old => "old",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "unknown authority state"),
    };

    // ---- registration entries ----

    /// <summary>
    /// The entry as it will be stored: selectors and federated trust domains sorted ordinally without
    /// repeats (they are sets), TTLs and the creation time in whole milliseconds.
    /// </summary>
    public static RegistrationEntry Normalize(RegistrationEntry entry, long revision, DateTimeOffset createdAt) => entry with
    {
        Selectors = NormalizeSelectors(entry.Selectors),
        FederatesWith = entry.FederatesWith.IsDefaultOrEmpty
            ? []
            : [.. entry.FederatesWith.Distinct().Order()],
        DnsNames = entry.DnsNames.IsDefault ? [] : entry.DnsNames,
        X509SvidTtl = FromMs(ToMs(entry.X509SvidTtl)),
        JwtSvidTtl = FromMs(ToMs(entry.JwtSvidTtl)),
        RevisionNumber = revision,
        CreatedAt = Stored(createdAt),
    };

    public static ImmutableArray<Selector> NormalizeSelectors(ImmutableArray<Selector> selectors) =>
        selectors.IsDefaultOrEmpty
            ? []
            : [.. selectors.Distinct().OrderBy(s => s.Type, StringComparer.Ordinal).ThenBy(s => s.Value, StringComparer.Ordinal)];

    /// <summary>
    /// SHA-256 over SPIFFE ID, parent ID and the normalized selector set: one unique index on it
    /// refuses duplicate entries (the ids themselves can be too long for a PostgreSQL index row).
    /// </summary>
    public static byte[] IdentityHash(RegistrationEntry normalized)
    {
        var parts = new List<string>(normalized.Selectors.Length + 2)
        {
            normalized.SpiffeId.ToString(),
            normalized.ParentId.ToString(),
        };
        parts.AddRange(normalized.Selectors.Select(s => s.ToString()));
        return SHA256.HashData(Encoding.UTF8.GetBytes(JsonStrings.Write(parts)));
    }

    /// <summary>Column values of <see cref="EntryColumns"/> (without id and revision) plus the identity hash.</summary>
    public static (string Name, object? Value)[] EntryParameters(RegistrationEntry normalized) =>
    [
        ("id", normalized.Id),
        ("revision", normalized.RevisionNumber),
        ("spiffe_id", normalized.SpiffeId.ToString()),
        ("parent_id", normalized.ParentId.ToString()),
        ("selectors", JsonStrings.Write(normalized.Selectors.Select(s => s.ToString()))),
        ("identity_hash", IdentityHash(normalized)),
        ("x509_svid_ttl_ms", ToMs(normalized.X509SvidTtl)),
        ("jwt_svid_ttl_ms", ToMs(normalized.JwtSvidTtl)),
        ("federates_with", JsonStrings.Write(normalized.FederatesWith.Select(t => t.Name))),
        ("dns_names", JsonStrings.Write(normalized.DnsNames)),
        ("hint", normalized.Hint),
        ("admin", normalized.Admin),
        ("downstream", normalized.Downstream),
        ("created_at", ToUnixMs(normalized.CreatedAt)),
    ];

    /// <summary>Reads an entry from <see cref="EntryColumns"/> starting at column <paramref name="offset"/>.</summary>
    public static RegistrationEntry ReadEntry(DbDataReader reader, int offset = 0)
    {
        var id = reader.GetString(offset);
        var row = new RowReader(reader, "entries", id, offset);
        return new RegistrationEntry
        {
            Id = id,
            RevisionNumber = row.Int64(1, "revision"),
            SpiffeId = row.SpiffeId(2, "spiffe_id"),
            ParentId = row.SpiffeId(3, "parent_id"),
            Selectors = row.Selectors(4, "selectors"),
            X509SvidTtl = FromMs(row.NullableInt64(5)),
            JwtSvidTtl = FromMs(row.NullableInt64(6)),
            FederatesWith = row.TrustDomains(7, "federates_with"),
            DnsNames = [.. row.Strings(8, "dns_names")],
            Hint = row.NullableString(9),
            Admin = row.Boolean(10),
            Downstream = row.Boolean(11),
            CreatedAt = FromUnixMs(row.Int64(12, "created_at")),
        };
    }

    // ---- nodes ----

    public static (string Name, object? Value)[] NodeParameters(AttestedNode node, DateTimeOffset createdAt) =>
    [
        ("spiffe_id", node.SpiffeId.ToString()),
        ("attestation_type", node.AttestationType),
        ("cert_serial", node.CertSerial),
        ("cert_not_after", ToUnixMs(node.CertNotAfter)),
        ("selectors", JsonStrings.Write((node.Selectors.IsDefault ? [] : node.Selectors).Select(s => s.ToString()))),
        ("banned", node.Banned),
        ("created_at", ToUnixMs(createdAt)),
        ("pending_cert_serial", node.PendingCertSerial),
        ("pending_cert_not_after", node.PendingCertNotAfter is { } pendingNotAfter ? ToUnixMs(pendingNotAfter) : null),
    ];

    public static AttestedNode ReadNode(DbDataReader reader)
    {
        var key = reader.GetString(0);
        var row = new RowReader(reader, "nodes", key, 0);
        return new AttestedNode
        {
            SpiffeId = row.SpiffeId(0, "spiffe_id"),
            AttestationType = row.String(1, "attestation_type"),
            CertSerial = row.String(2, "cert_serial"),
            CertNotAfter = FromUnixMs(row.Int64(3, "cert_not_after")),
            Selectors = row.Selectors(4, "selectors"),
            Banned = row.Boolean(5),
            CreatedAt = FromUnixMs(row.Int64(6, "created_at")),
            PendingCertSerial = row.NullableString(7),
            PendingCertNotAfter = row.NullableInt64(8) is { } pendingNotAfter ? FromUnixMs(pendingNotAfter) : null,
        };
    }

    // ---- authorities ----

    public static (string Name, object? Value)[] AuthorityParameters(AuthorityRecord authority, DateTimeOffset createdAt) =>
    [
        ("kind", AuthorityKindText(authority.Kind)),
        ("id", authority.Id),
        ("server_id", authority.ServerId),
        ("state", AuthorityStateText(authority.State)),
        ("tainted", authority.Tainted),
        ("certificate_der", authority.CertificateDer),
        ("upstream_chain_der", authority.UpstreamChainDer),
        ("public_key", authority.PublicKey),
        ("not_before", ToUnixMs(authority.NotBefore)),
        ("not_after", ToUnixMs(authority.NotAfter)),
        ("created_at", ToUnixMs(createdAt)),
    ];

    public static AuthorityRecord ReadAuthority(DbDataReader reader)
    {
        var kindText = reader.GetString(0);
        var id = reader.GetString(1);
        var row = new RowReader(reader, "authorities", kindText + "/" + id, 0);
        return new AuthorityRecord
        {
            Kind = kindText switch
            {
                "x509" => AuthorityKind.X509,
                "jwt" => AuthorityKind.Jwt,
                _ => throw row.Corrupt("kind", "unknown authority kind"),
            },
            Id = id,
            ServerId = row.String(2, "server_id"),
            State = row.String(3, "state") switch
            {
                "prepared" => AuthorityState.Prepared,
                "active" => AuthorityState.Active,
                "old" => AuthorityState.Old,
                _ => throw row.Corrupt("state", "unknown authority state"),
            },
            Tainted = row.Boolean(4),
            CertificateDer = row.NullableBytes(5),
            UpstreamChainDer = row.NullableBytes(6),
            PublicKey = row.NullableBytes(7),
            NotBefore = FromUnixMs(row.Int64(8, "not_before")),
            NotAfter = FromUnixMs(row.Int64(9, "not_after")),
            CreatedAt = FromUnixMs(row.Int64(10, "created_at")),
        };
    }

    // ---- join tokens ----

    public static (string Name, object? Value)[] JoinTokenParameters(JoinToken token) =>
    [
        ("id", token.Id),
        ("secret_hash", token.SecretHash),
        ("expires_at", ToUnixMs(token.ExpiresAt)),
        ("alias", token.Alias.IsEmpty ? null : token.Alias.ToString()),
    ];

    public static JoinToken ReadJoinToken(DbDataReader reader)
    {
        var id = reader.GetString(0);
        var row = new RowReader(reader, "join_tokens", id, 0);
        var alias = row.NullableString(3);
        return new JoinToken
        {
            Id = id,
            SecretHash = row.NullableBytes(1) ?? throw row.Corrupt("secret_hash", "is null"),
            ExpiresAt = FromUnixMs(row.Int64(2, "expires_at")),
            Alias = alias is null ? default : row.ParseSpiffeId(alias, "alias"),
        };
    }

    // ---- bundles ----

    public static StoredBundle ReadBundle(DbDataReader reader)
    {
        var key = reader.GetString(0);
        var row = new RowReader(reader, "bundles", key, 0);
        if (!TrustDomain.TryParse(key, out var trustDomain, out var error))
        {
            throw row.Corrupt("trust_domain", error);
        }

        return new StoredBundle(ParseBundle(trustDomain, row.String(1, "document")), FromUnixMs(row.Int64(2, "updated_at")));
    }

    /// <summary>Parses a stored SPIFFE bundle document.</summary>
    /// <exception cref="InvalidDataException">The document is not a SPIFFE bundle.</exception>
    public static SpiffeBundle ParseBundle(TrustDomain trustDomain, string document)
    {
        try
        {
            return SpiffeBundle.Parse(trustDomain, Encoding.UTF8.GetBytes(document));
        }
        catch (FormatException ex)
        {
            throw CorruptData.Row("bundles", trustDomain.Name, "document", "not a SPIFFE bundle: " + ex.Message, ex);
        }
    }

    /// <summary>Typed, checked access to one row's columns, naming table, key and column on failure.</summary>
    private readonly struct RowReader(DbDataReader reader, string table, string key, int offset)
    {
        public InvalidDataException Corrupt(string column, string detail, Exception? inner = null) =>
            CorruptData.Row(table, key, column, detail, inner);

        public string String(int i, string column) =>
            reader.IsDBNull(offset + i) ? throw Corrupt(column, "is null") : reader.GetString(offset + i);

        public string? NullableString(int i) => reader.IsDBNull(offset + i) ? null : reader.GetString(offset + i);

        public long Int64(int i, string column) =>
            reader.IsDBNull(offset + i) ? throw Corrupt(column, "is null") : reader.GetInt64(offset + i);

        public long? NullableInt64(int i) => reader.IsDBNull(offset + i) ? null : reader.GetInt64(offset + i);

        public bool Boolean(int i) => !reader.IsDBNull(offset + i) && reader.GetBoolean(offset + i);

        public byte[]? NullableBytes(int i) => reader.IsDBNull(offset + i) ? null : (byte[])reader.GetValue(offset + i);

        public SpiffeId SpiffeId(int i, string column) => ParseSpiffeId(String(i, column), column);

        public SpiffeId ParseSpiffeId(string text, string column) =>
            Anchorage.Spiffe.Ids.SpiffeId.TryParse(text, out var id, out var error) ? id : throw Corrupt(column, error);

        public List<string> Strings(int i, string column)
        {
            try
            {
                return JsonStrings.Read(String(i, column));
            }
            catch (FormatException ex)
            {
                throw Corrupt(column, ex.Message, ex);
            }
        }

        public ImmutableArray<Selector> Selectors(int i, string column)
        {
            var builder = ImmutableArray.CreateBuilder<Selector>();
            foreach (var text in Strings(i, column))
            {
                builder.Add(Selector.TryParse(text, out var selector, out var error) ? selector : throw Corrupt(column, error));
            }

            return builder.ToImmutable();
        }

        public ImmutableArray<TrustDomain> TrustDomains(int i, string column)
        {
            var builder = ImmutableArray.CreateBuilder<TrustDomain>();
            foreach (var text in Strings(i, column))
            {
                builder.Add(TrustDomain.TryParse(text, out var td, out var error) ? td : throw Corrupt(column, error));
            }

            return builder.ToImmutable();
        }
    }
}
