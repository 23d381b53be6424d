using System.Collections.Immutable;

namespace Anchorage.Server.Ca.Internal;

/// <summary>The steps <see cref="CaRotator"/> calls, one at a time, under the CA's lock (SPIRE's rotator drives its CA manager the same way).</summary>
internal interface IAuthorityRotation
{
    /// <summary>Re-reads the journal and brings the loaded keys and active authorities in line with it.</summary>
    Task ReconcileAsync(CancellationToken cancellationToken);

    /// <summary>What is due now for this server's authorities of <paramref name="kind"/>.</summary>
    RotationDecision Plan(AuthorityKind kind);

    /// <summary>Removes expired authorities: journal entry first, then the key.</summary>
    Task RetireAsync(ImmutableArray<AuthorityRecord> expired, CancellationToken cancellationToken);

    /// <summary>Creates a new authority of <paramref name="kind"/>: key first, then the journal entry (prepared).</summary>
    Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken cancellationToken);

    /// <summary>Publishes the bundle of the journal as it is.</summary>
    Task PublishAsync(CancellationToken cancellationToken);

    /// <summary>Activates a prepared authority that the published bundle holds; false when the journal no longer holds it as prepared.</summary>
    Task<bool> ActivateAsync(AuthorityRecord prepared, CancellationToken cancellationToken);
}
