using System.Collections.Immutable;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// The steps of an authority's life on this server (prepare, activate, retire) over the journal,
/// the key slots and the bundle publisher, in the crash-safe order <see cref="CaManager"/>'s remarks
/// give. Used by the rotator and by the operator's verbs; never concurrently (the CA's lock).
/// </summary>
internal sealed class AuthorityLifecycle(
    CaContext ca,
    AuthorityJournal journal,
    AuthoritySlots slots,
    BundlePublisher publisher,
    X509AuthorityFactory x509Factory,
    JwtAuthorityFactory jwtFactory) : IAuthorityRotation
{
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await slots.ReconcileAsync(journal, cancellationToken).ConfigureAwait(false);
        journal.NoteChanges();
    }

    public RotationDecision Plan(AuthorityKind kind) => RotationPlanner.Plan(journal.Mine(kind), ca.Time.GetUtcNow());

    public Task PublishAsync(CancellationToken cancellationToken) => publisher.PublishAsync(cancellationToken);

    /// <summary>Key first (written and synced by the key manager), then the journal entry naming it.</summary>
    public async Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken cancellationToken)
    {
        var now = ca.Time.GetUtcNow();
        AuthorityRecord record;
        if (kind == AuthorityKind.X509)
        {
            var authority = await x509Factory.CreateAsync(ca.Keys, ca.Options.KeyType, ca.Options.CaTtl, ca.Options.UpstreamAuthority, cancellationToken)
                .ConfigureAwait(false);
            record = authority.ToRecord(ca.ServerId, AuthorityState.Prepared, now);
            await JournalNewAsync(record, authority, cancellationToken).ConfigureAwait(false);
            slots.Add(record.Id, authority);
        }
        else
        {
            var authority = await jwtFactory.CreateAsync(ca.Keys, ca.Options.CaTtl, cancellationToken).ConfigureAwait(false);
            record = authority.ToRecord(ca.ServerId, AuthorityState.Prepared, now);
            await JournalNewAsync(record, authority, cancellationToken).ConfigureAwait(false);
            slots.Add(record.Id, authority);
        }

        var kindName = CaContext.Name(kind);
        CaManagerLog.Prepared(ca.Logger, kindName, record.Id, record.NotAfter);
        ca.AuditAuthority("prepared", record);
        return record;
    }

    /// <summary>
    /// Makes <paramref name="prepared"/> this server's active authority of its kind: checks the
    /// stored bundle holds it, then journals it active and the previous active one old in one
    /// conditional write (only if it is still prepared), and only then signs with it. False when
    /// the journal no longer holds it as prepared (revoked or activated by another server meanwhile).
    /// </summary>
    public async Task<bool> ActivateAsync(AuthorityRecord prepared, CancellationToken cancellationToken)
    {
        var kind = prepared.Kind;
        var kindName = CaContext.Name(kind);
        if (!publisher.InBundle(prepared))
        {
            // Another server published a bundle computed before this one was journalled: publish again.
            CaManagerLog.PreparedNotPublished(ca.Logger, kindName, prepared.Id);
            await publisher.PublishAsync(cancellationToken).ConfigureAwait(false);
            if (!publisher.InBundle(prepared))
            {
                throw new InvalidOperationException($"{kindName} authority \"{prepared.Id}\" is not in the published bundle yet; try again");
            }
        }

        var previous = journal.Mine(kind).Where(a => a.State == AuthorityState.Active && a.Id != prepared.Id).MaxBy(a => a.NotAfter)?.Id ?? "none";
        var activated = await ca.Store.ActivateAuthorityAsync(kind, prepared.Id, cancellationToken).ConfigureAwait(false);
        await ReconcileAsync(cancellationToken).ConfigureAwait(false);
        if (!activated)
        {
            CaManagerLog.ActivationLost(ca.Logger, kindName, prepared.Id);
            await publisher.PublishAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        CaManagerLog.Activated(ca.Logger, kindName, prepared.Id, previous);
        ca.AuditAuthority("activated", prepared, "previous active: " + previous);
        return true;
    }

    /// <summary>Journal entry first, then the key: the journal never names a key that is gone.</summary>
    public async Task RetireAsync(ImmutableArray<AuthorityRecord> expired, CancellationToken cancellationToken)
    {
        foreach (var record in expired)
        {
            await ca.Store.DeleteAuthorityAsync(record.Kind, record.Id, cancellationToken).ConfigureAwait(false);
            await ca.Keys.DeleteAsync(AuthorityKeyIds.For(record), cancellationToken).ConfigureAwait(false);
            var kindName = CaContext.Name(record.Kind);
            CaManagerLog.Retired(ca.Logger, kindName, record.Id, record.NotAfter);
            ca.AuditAuthority("retired", record, "expired");
        }
    }

    private async Task JournalNewAsync(AuthorityRecord record, IDisposable authority, CancellationToken cancellationToken)
    {
        try
        {
            await ca.Store.CreateAuthorityAsync(record, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The journal does not name the key: it is an orphan; remove it (best effort, the key file is harmless).
            authority.Dispose();
            await ca.Keys.DeleteAsync(AuthorityKeyIds.For(record), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
