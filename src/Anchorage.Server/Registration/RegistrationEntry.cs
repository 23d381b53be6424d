using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Registration;

/// <summary>
/// A registration entry: the identity <see cref="SpiffeId"/> may be held by workloads matching
/// every one of <see cref="Selectors"/> on nodes that are, or are aliased by, <see cref="ParentId"/>.
/// </summary>
public sealed record RegistrationEntry
{
    /// <summary>Opaque unique id (assigned by the server).</summary>
    public required string Id { get; init; }

    /// <summary>The identity issued to matching workloads.</summary>
    public required SpiffeId SpiffeId { get; init; }

    /// <summary>The agent (or node alias) under which the entry applies.</summary>
    public required SpiffeId ParentId { get; init; }

    /// <summary>All must match; at least one.</summary>
    public required ImmutableArray<Selector> Selectors { get; init; }

    /// <summary>X.509-SVID lifetime; null means the server default.</summary>
    public TimeSpan? X509SvidTtl { get; init; }

    /// <summary>JWT-SVID lifetime; null means the server default.</summary>
    public TimeSpan? JwtSvidTtl { get; init; }

    /// <summary>Foreign trust domains whose bundles workloads of this entry receive.</summary>
    public ImmutableArray<TrustDomain> FederatesWith { get; init; } = [];

    /// <summary>DNS SANs added to the X.509-SVID.</summary>
    public ImmutableArray<string> DnsNames { get; init; } = [];

    /// <summary>Workload API hint to tell several SVIDs of one workload apart.</summary>
    public string? Hint { get; init; }

    /// <summary>Holders may use the admin API.</summary>
    public bool Admin { get; init; }

    /// <summary>Holders may mint SVIDs for a downstream (nested) server.</summary>
    public bool Downstream { get; init; }

    /// <summary>Increases on every change; agents sync incrementally by revision.</summary>
    public long RevisionNumber { get; init; }

    /// <summary>When the entry was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}
