using System.Collections.Immutable;
using System.Globalization;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Google.Protobuf;
using Admin = Anchorage.Protos.Admin.V1;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// Conversions between the API messages and the server's model. Durations travel as whole
/// seconds, 0 meaning "the default"; instants as unix seconds. Field names in messages are the
/// camelCase ones the entry validator uses.
/// </summary>
internal static class ProtoMapper
{
    /// <summary>An entry from the wire. Parse problems are reported like the validator's, all at once.</summary>
    /// <exception cref="EntryValidationException">The SPIFFE IDs or trust domains do not parse.</exception>
    public static RegistrationEntry ToModel(Common.Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var problems = new List<string>();
        var spiffeId = ParseOptionalId(entry.SpiffeId, "spiffeId", problems);
        var parentId = ParseOptionalId(entry.ParentId, "parentId", problems);
        var federatesWith = ImmutableArray.CreateBuilder<TrustDomain>(entry.FederatesWith.Count);
        for (var i = 0; i < entry.FederatesWith.Count; i++)
        {
            if (TrustDomain.TryParse(entry.FederatesWith[i], out var td))
            {
                federatesWith.Add(td);
            }
            else
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"federatesWith[{i}]: \"{entry.FederatesWith[i]}\" is not a trust domain"));
            }
        }

        if (problems.Count > 0)
        {
            throw new EntryValidationException(problems);
        }

        return new RegistrationEntry
        {
            Id = entry.Id,
            SpiffeId = spiffeId,
            ParentId = parentId,
            Selectors = [.. entry.Selectors.Select(s => new Selector(s.Type, s.Value))],
            X509SvidTtl = EntryTtl(entry.X509SvidTtlSeconds),
            JwtSvidTtl = EntryTtl(entry.JwtSvidTtlSeconds),
            FederatesWith = federatesWith.ToImmutable(),
            DnsNames = [.. entry.DnsNames],
            Hint = entry.Hint.Length == 0 ? null : entry.Hint,
            Admin = entry.Admin,
            Downstream = entry.Downstream,

            // The revision the caller read (0: none): an update from an older one is refused.
            RevisionNumber = entry.RevisionNumber,
        };
    }

    public static Common.Entry ToProto(RegistrationEntry entry)
    {
        var proto = new Common.Entry
        {
            Id = entry.Id,
            SpiffeId = entry.SpiffeId.ToString(),
            ParentId = entry.ParentId.ToString(),
            X509SvidTtlSeconds = Seconds(entry.X509SvidTtl),
            JwtSvidTtlSeconds = Seconds(entry.JwtSvidTtl),
            Hint = entry.Hint ?? string.Empty,
            Admin = entry.Admin,
            Downstream = entry.Downstream,
            RevisionNumber = entry.RevisionNumber,
            CreatedAt = entry.CreatedAt.ToUnixTimeSeconds(),
        };
        proto.Selectors.AddRange(entry.Selectors.Select(s => new Common.Selector { Type = s.Type, Value = s.Value }));
        proto.FederatesWith.AddRange(entry.FederatesWith.Select(td => td.Name));
        proto.DnsNames.AddRange(entry.DnsNames);
        return proto;
    }

    public static Common.Bundle ToProto(StoredBundle stored) => new()
    {
        TrustDomain = stored.Bundle.TrustDomain.Name,
        SpiffeBundleJson = ByteString.CopyFrom(stored.Bundle.ToUtf8Json()),
        Sequence = stored.Bundle.SequenceNumber ?? 0,
        UpdatedAt = stored.UpdatedAt.ToUnixTimeSeconds(),
    };

    public static Common.Policy ToProto(StoredPolicy stored) => new()
    {
        Name = stored.Name,
        Yaml = stored.Document,
        Version = stored.Version,
        UpdatedAt = stored.UpdatedAt.ToUnixTimeSeconds(),
    };

    public static Common.X509Svid ToProto(IssuedX509Svid svid)
    {
        var proto = new Common.X509Svid { SpiffeId = svid.Id.ToString(), ExpiresAt = svid.NotAfter.ToUnixTimeSeconds() };
        proto.CertChain.AddRange(svid.Chain.Select(ByteString.CopyFrom));
        return proto;
    }

    public static Admin.AgentInfo ToProto(AttestedNode node)
    {
        var proto = new Admin.AgentInfo
        {
            SpiffeId = node.SpiffeId.ToString(),
            AttestationType = node.AttestationType,
            CertSerial = node.CertSerial,
            CertExpiresAt = node.CertNotAfter.ToUnixTimeSeconds(),
            Banned = node.Banned,
            CreatedAt = node.CreatedAt.ToUnixTimeSeconds(),
        };
        proto.Selectors.AddRange(node.Selectors.Select(s => new Common.Selector { Type = s.Type, Value = s.Value }));
        return proto;
    }

    public static Admin.Authority ToProto(AuthorityRecord record) => new()
    {
        Kind = KindName(record.Kind),
        Id = record.Id,
        ServerId = record.ServerId,
        State = record.State switch
        {
            AuthorityState.Prepared => "prepared",
            AuthorityState.Active => "active",
            _ => "old",
        },
        Tainted = record.Tainted,
        NotBefore = record.NotBefore.ToUnixTimeSeconds(),
        NotAfter = record.NotAfter.ToUnixTimeSeconds(),
        Certificate = record.CertificateDer is null ? ByteString.Empty : ByteString.CopyFrom(record.CertificateDer),
    };

    public static string KindName(AuthorityKind kind) => kind == AuthorityKind.X509 ? "x509" : "jwt";

    /// <summary><c>x509</c> or <c>jwt</c>.</summary>
    /// <exception cref="ApiException">Anything else (InvalidArgument).</exception>
    public static AuthorityKind ParseKind(string kind) => kind switch
    {
        "x509" => AuthorityKind.X509,
        "jwt" => AuthorityKind.Jwt,
        "" => throw ApiException.InvalidArgument("kind is required: x509 or jwt"),
        _ => throw ApiException.InvalidArgument($"kind \"{kind}\" is not x509 or jwt"),
    };

    /// <summary>A revoked authority: state <c>revoked</c>, no certificate.</summary>
    public static Admin.Authority ToProto(RevokedAuthority record) => new()
    {
        Kind = KindName(record.Kind),
        Id = record.Id,
        ServerId = record.ServerId,
        State = "revoked",
        Tainted = record.Tainted,
        NotBefore = record.NotBefore.ToUnixTimeSeconds(),
        NotAfter = record.NotAfter.ToUnixTimeSeconds(),
        RevokedAt = record.RevokedAt.ToUnixTimeSeconds(),
    };

    public static Admin.FederationStatus ToProto(Federation.FederationStatus status)
    {
        var r = status.Relationship;
        var s = status.State;
        var proto = new Admin.FederationStatus
        {
            TrustDomain = r.TrustDomain.Name,
            Name = r.Name,
            Owner = r.Owner,
            Profile = BundleEndpointProfiles.ToName(r.Profile),
            Url = r.Url.OriginalString,
            EndpointSpiffeId = r.EndpointSpiffeId?.ToString() ?? string.Empty,
            MaxStalenessSeconds = (long)r.MaxStaleness.TotalSeconds,
            Sequence = status.Sequence,
            LastRefresh = UnixSeconds(s.LastSuccess),
            LastError = s.LastError ?? string.Empty,
            LastErrorAt = UnixSeconds(s.LastErrorAt),
            NextRefresh = UnixSeconds(s.NextRefresh),
            ConsecutiveFailures = s.ConsecutiveFailures,
            EarliestAnchorExpiry = UnixSeconds(status.EarliestAnchorExpiry),
            FederatingEntries = status.FederatingEntries,
            LastAttempt = UnixSeconds(s.LastAttempt),
            CreatedAt = UnixSeconds(r.CreatedAt),
            UpdatedAt = UnixSeconds(r.UpdatedAt),
            HasCaBundle = r.CaBundlePem is not null,
            Approval = status.Approval,
            ApprovedAt = UnixSeconds(r.Approval?.ApprovedAt),
            ApprovedByUid = r.Approval?.ApproverUid ?? -1,
            ApprovedBy = r.Approval?.Approver ?? string.Empty,
            ApprovalNote = r.Approval?.Note ?? string.Empty,
            ReviewEverySeconds = r.ReviewEvery is { } every ? (long)every.TotalSeconds : 0,
            ReviewDueAt = UnixSeconds(status.ReviewDueAt),
            Distributed = status.Distributed,
        };
        if (status.Coherence is { } c)
        {
            proto.PeerRefreshHintSeconds = Seconds(c.PeerRefreshHint);
            proto.PollIntervalSeconds = Seconds(c.PollInterval);
            proto.WorstCaseRevocationSeconds = Seconds(c.WorstCaseRevocation);
            proto.ShortestAuthorityLifetimeSeconds = Seconds(c.ShortestAuthorityLifetime);
            proto.HasOverlap = c.SmallestOverlap is not null;
            proto.SmallestOverlapSeconds = Seconds(c.SmallestOverlap);
            proto.OldestAuthorityAgeSeconds = Seconds(c.OldestAuthorityAge);
            proto.RotationWithoutOverlapAt = UnixSeconds(c.RotationWithoutOverlapAt);
            proto.HasClockSkew = c.ClockSkew is not null;
            proto.ClockSkewMs = c.ClockSkew is { } skew ? (long)skew.TotalMilliseconds : 0;
            proto.SequenceChanges = c.SequenceChanges.Changes;
            proto.MedianSequenceChangeIntervalSeconds = Seconds(c.SequenceChanges.MedianInterval);
            proto.LastSequenceChangeAt = UnixSeconds(c.SequenceChanges.LastChangeAt);
            proto.FetchHistorySince = UnixSeconds(c.SequenceChanges.Since);
        }

        proto.ApprovedAuthorities.AddRange(r.Approval?.AuthorityIds ?? []);
        proto.Flags.AddRange(status.Flags);
        proto.UnusedReason = status.UnusedReason ?? string.Empty;
        proto.UnusedAfterSeconds = Seconds(status.UnusedAfter);
        proto.Usage.AddRange(status.Usage.Select(u => new Admin.ObservedUse
        {
            AgentId = u.AgentId,
            Direction = u.Direction,
            Allowed = u.Allowed,
            Denied = u.Denied,
            LastAllowed = UnixSeconds(u.LastAllowed),
            LastDenied = UnixSeconds(u.LastDenied),
            ReportedAt = UnixSeconds(u.ReportedAt),
            Listener = u.Listener,
        }));
        proto.Fetches.AddRange(status.Fetches.Select(f => new Admin.BundleFetch
        {
            TimeMs = f.Time.ToUnixTimeMilliseconds(),
            Outcome = f.Outcome,
            Message = f.Message ?? string.Empty,
            HasSequence = f.Sequence is not null,
            Sequence = f.Sequence ?? 0,
            RefreshHintSeconds = Seconds(f.RefreshHint),
            HasClockSkew = f.ClockSkew is not null,
            ClockSkewMs = f.ClockSkew is { } fetchSkew ? (long)fetchSkew.TotalMilliseconds : 0,
        }));
        proto.Held.AddRange(status.Held.Select(h => new Admin.AgentHeldBundle { AgentId = h.AgentId, Sequence = h.Sequence, ReportedAt = UnixSeconds(h.ReportedAt) }));
        return proto;
    }

    private static long UnixSeconds(DateTimeOffset? instant) => instant is { } i ? i.ToUnixTimeSeconds() : 0;

    /// <summary>A required SPIFFE ID field.</summary>
    /// <exception cref="ApiException"><c>&lt;field&gt; is required</c> or <c>&lt;field&gt;: &lt;parse error&gt;</c> (InvalidArgument).</exception>
    public static SpiffeId ParseId(string text, string field)
    {
        if (text.Length == 0)
        {
            throw ApiException.InvalidArgument(field + " is required");
        }

        try
        {
            return SpiffeId.Parse(text);
        }
        catch (FormatException ex)
        {
            throw ApiException.InvalidArgument(field + ": " + ex.Message);
        }
    }

    /// <summary>A required trust domain field.</summary>
    /// <exception cref="ApiException"><c>&lt;field&gt; is required</c> or <c>&lt;field&gt;: &lt;parse error&gt;</c> (InvalidArgument).</exception>
    public static TrustDomain ParseTrustDomain(string text, string field)
    {
        if (text.Length == 0)
        {
            throw ApiException.InvalidArgument(field + " is required");
        }

        try
        {
            return TrustDomain.Parse(text);
        }
        catch (FormatException ex)
        {
            throw ApiException.InvalidArgument(field + ": " + ex.Message);
        }
    }

    /// <summary>A TTL request field: 0 is the default (null); negative is refused.</summary>
    /// <exception cref="ApiException"><c>&lt;field&gt; must not be negative</c> (InvalidArgument).</exception>
    public static TimeSpan? Ttl(long seconds, string field) => seconds switch
    {
        0 => null,
        < 0 => throw ApiException.InvalidArgument(field + " must not be negative"),
        // Larger than any TimeSpan: the CA caps it anyway.
        > 10_000_000_000L => TimeSpan.FromSeconds(10_000_000_000L),
        _ => TimeSpan.FromSeconds(seconds),
    };

    private static TimeSpan? EntryTtl(long seconds) => seconds == 0 ? null : TimeSpan.FromSeconds(Math.Clamp(seconds, -10_000_000_000L, 10_000_000_000L));

    private static long Seconds(TimeSpan? ttl) => ttl is { } t ? (long)t.TotalSeconds : 0;

    private static SpiffeId ParseOptionalId(string text, string field, List<string> problems)
    {
        if (text.Length == 0)
        {
            return default; // the validator reports "is required"
        }

        if (SpiffeId.TryParse(text, out var id, out var error))
        {
            return id;
        }

        problems.Add($"{field}: \"{text}\": {error}");
        return default;
    }
}
