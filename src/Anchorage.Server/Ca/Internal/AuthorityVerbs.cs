namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// The operator's prepare / activate / taint / revoke: each checks the request against the journal
/// as it is now, then runs the lifecycle step or the conditional journal write, and publishes.
/// Called under the CA's lock; <see cref="CaManager"/> documents each verb.
/// </summary>
internal sealed class AuthorityVerbs(CaContext ca, AuthorityJournal journal, AuthorityLifecycle lifecycle, ServerSvidRenewer serverSvid)
{
    public async Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken ct)
    {
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        if (AuthorityJournal.Latest(journal.Mine(kind), AuthorityState.Prepared) is { } prepared)
        {
            throw new InvalidOperationException($"{Name(kind)} authority \"{prepared.Id}\" is already prepared; activate it before preparing another");
        }

        var record = await lifecycle.PrepareAsync(kind, ct).ConfigureAwait(false);
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        await lifecycle.PublishAsync(ct).ConfigureAwait(false);
        return record;
    }

    public async Task<AuthorityRecord> ActivateAsync(AuthorityKind kind, string? id, CancellationToken ct)
    {
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        AuthorityRecord target;
        if (id is null)
        {
            target = AuthorityJournal.Latest(journal.Mine(kind), AuthorityState.Prepared)
                ?? throw new InvalidOperationException($"no prepared {Name(kind)} authority to activate; prepare one first");
        }
        else
        {
            target = journal.Find(kind, id);
            if (!ca.IsMine(target))
            {
                throw new InvalidOperationException(
                    $"{Name(kind)} authority \"{id}\" belongs to server \"{target.ServerId}\"; activate it on that server");
            }

            if (target.State == AuthorityState.Active)
            {
                throw new InvalidOperationException($"{Name(kind)} authority \"{id}\" is already active");
            }

            if (target.State == AuthorityState.Old)
            {
                throw new InvalidOperationException($"{Name(kind)} authority \"{id}\" is old; only a prepared authority can be activated");
            }
        }

        await lifecycle.PublishAsync(ct).ConfigureAwait(false);
        if (!await lifecycle.ActivateAsync(target, ct).ConfigureAwait(false))
        {
            throw new InvalidOperationException(
                $"{Name(kind)} authority \"{target.Id}\" is no longer prepared (revoked or activated meanwhile); look again");
        }

        if (kind == AuthorityKind.X509)
        {
            serverSvid.Renew(force: false);
        }

        return journal.Find(kind, target.Id);
    }

    public async Task<AuthorityRecord> TaintAsync(AuthorityKind kind, string? id, CancellationToken ct)
    {
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        var target = id is null
            ? journal.Mine(kind).Where(a => a.State == AuthorityState.Old && !a.Tainted).MaxBy(a => a.NotAfter)
                ?? throw new InvalidOperationException($"no old {Name(kind)} authority to taint; activate another first")
            : journal.Find(kind, id);
        switch (target.State)
        {
            case AuthorityState.Active:
                throw new InvalidOperationException($"cannot taint the active {Name(kind)} authority \"{target.Id}\"; activate another first");
            case AuthorityState.Prepared:
                throw new InvalidOperationException(
                    $"cannot taint the prepared {Name(kind)} authority \"{target.Id}\"; it has signed nothing, revoke it instead");
        }

        if (target.Tainted)
        {
            throw new InvalidOperationException($"{Name(kind)} authority \"{target.Id}\" is already tainted");
        }

        if (!await ca.Store.TaintAuthorityAsync(kind, target.Id, ct).ConfigureAwait(false))
        {
            await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
            throw new InvalidOperationException(
                $"{Name(kind)} authority \"{target.Id}\" changed meanwhile (revoked, tainted or activated by another server); look again");
        }

        CaManagerLog.Tainted(ca.Logger, Name(kind), target.Id, target.ServerId);
        ca.AuditAuthority("tainted", target);
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        await lifecycle.PublishAsync(ct).ConfigureAwait(false);
        return journal.Find(kind, target.Id);
    }

    public async Task<AuthorityRecord> RevokeAsync(AuthorityKind kind, string? id, CancellationToken ct)
    {
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        var target = id is null
            ? journal.Mine(kind).Where(a => a.State == AuthorityState.Old && a.Tainted).MinBy(a => a.NotAfter)
                ?? throw new InvalidOperationException($"no tainted {Name(kind)} authority to revoke; taint one first")
            : journal.Find(kind, id);
        if (target.State == AuthorityState.Active)
        {
            throw new InvalidOperationException($"cannot revoke the active {Name(kind)} authority \"{target.Id}\"; activate another first");
        }

        if (target.State == AuthorityState.Old && !target.Tainted)
        {
            throw new InvalidOperationException($"{Name(kind)} authority \"{target.Id}\" is not tainted; taint it before revoking it");
        }

        if (!await ca.Store.RevokeAuthorityAsync(kind, target.Id, ct).ConfigureAwait(false))
        {
            await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
            throw new InvalidOperationException(
                $"{Name(kind)} authority \"{target.Id}\" changed meanwhile (activated or revoked by another server); look again");
        }

        if (ca.IsMine(target))
        {
            await ca.Keys.DeleteAsync(AuthorityKeyIds.For(target), ct).ConfigureAwait(false);
        }

        CaManagerLog.Revoked(ca.Logger, Name(kind), target.Id, target.ServerId);
        ca.AuditAuthority("revoked", target);
        await lifecycle.ReconcileAsync(ct).ConfigureAwait(false);
        await lifecycle.PublishAsync(ct).ConfigureAwait(false);
        return target;
    }

    private static string Name(AuthorityKind kind) => CaContext.Name(kind);
}
