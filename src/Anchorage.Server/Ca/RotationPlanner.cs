using System.Collections.Immutable;

namespace Anchorage.Server.Ca;

/// <summary>
/// Decides, from this server's authority journal of one kind and the current time, the next step
/// of the two-slot rotation SPIRE uses (facts from SPIRE's CA manager, formulas restated here).
/// Pure: it reads no state but its arguments and the injected clock.
/// </summary>
/// <remarks>
/// For an authority issued at <c>issuedAt</c> (the record's <c>CreatedAt</c>; its <c>NotBefore</c> when
/// CreatedAt is unset) and valid until <c>notAfter</c>, with <c>life = notAfter - issuedAt</c>
/// (SPIRE measures from the issue time, not from the backdated notBefore):
/// <list type="bullet">
/// <item><b>prepare</b> the next authority at <c>notAfter - min(life / 2, 30 d)</c> of the active one
/// (or at once when there is neither an active nor a prepared one);</item>
/// <item><b>activate</b> the prepared one at <c>notAfter - min(life / 6, 7 d)</c> of the active one
/// (or at once when there is no active one); the active one becomes Old;</item>
/// <item><b>retire</b> (drop from the journal) every authority, whatever its slot, once <c>now &gt;= notAfter</c>.</item>
/// </list>
/// With the default CA TTL of 24 h: prepare at 12 h, activate at 20 h, the old one expires at 24 h.
/// Retiring comes first, then activating, then preparing. SVID lifetimes are capped at
/// <see cref="MaxSvidTtl"/> = <c>min(life / 6, 7 d)</c> and never run past the CA's notAfter, so an
/// SVID signed just before activation never outlives its CA.
/// </remarks>
public sealed class RotationPlanner
{
    /// <summary>SPIRE's default CA TTL.</summary>
    public static readonly TimeSpan DefaultCaTtl = TimeSpan.FromHours(24);

    /// <summary>SPIRE's default X.509-SVID TTL.</summary>
    public static readonly TimeSpan DefaultX509SvidTtl = TimeSpan.FromHours(1);

    /// <summary>SPIRE's default JWT-SVID TTL.</summary>
    public static readonly TimeSpan DefaultJwtSvidTtl = TimeSpan.FromMinutes(5);

    /// <summary>How far notBefore is set before "now" to absorb clock skew between hosts.</summary>
    public static readonly TimeSpan Backdate = TimeSpan.FromSeconds(10);

    /// <summary>The longest lead time of <see cref="PreparationThreshold"/>.</summary>
    public static readonly TimeSpan PreparationThresholdCap = TimeSpan.FromDays(30);

    /// <summary>The longest lead time of <see cref="ActivationThreshold"/>, also the longest SVID TTL.</summary>
    public static readonly TimeSpan ActivationThresholdCap = TimeSpan.FromDays(7);

    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a planner reading "now" from <paramref name="timeProvider"/> (default: the system clock).</summary>
    public RotationPlanner(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Plans at the current time of the injected clock.</summary>
    /// <inheritdoc cref="Plan(IReadOnlyList{AuthorityRecord}, DateTimeOffset)"/>
    public RotationDecision Plan(IReadOnlyList<AuthorityRecord> authorities) => Plan(authorities, _timeProvider.GetUtcNow());

    /// <summary>Decides the next rotation step at <paramref name="now"/> (see the type's remarks for the formulas).</summary>
    /// <param name="authorities">This server's authorities of one kind, in any order.</param>
    /// <param name="now">The decision time.</param>
    /// <exception cref="ArgumentException">The records mix kinds or servers, or one has notAfter &lt;= notBefore.</exception>
    public static RotationDecision Plan(IReadOnlyList<AuthorityRecord> authorities, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        Validate(authorities);

        var expired = authorities.Where(a => now >= a.NotAfter).ToImmutableArray();
        if (!expired.IsEmpty)
        {
            return new RotationDecision(RotationAction.Retire, null, null, expired, null);
        }

        var active = Latest(authorities, AuthorityState.Active);
        var prepared = Latest(authorities, AuthorityState.Prepared);
        if (active is null)
        {
            return prepared is null
                ? new RotationDecision(RotationAction.Prepare, null, null, [], null)
                : new RotationDecision(RotationAction.Activate, prepared, null, [], null);
        }

        DateTimeOffset next;
        if (prepared is not null)
        {
            next = ActivationThreshold(IssuedAt(active), active.NotAfter);
            if (now >= next)
            {
                return new RotationDecision(RotationAction.Activate, prepared, active, [], null);
            }
        }
        else
        {
            next = PreparationThreshold(IssuedAt(active), active.NotAfter);
            if (now >= next)
            {
                return new RotationDecision(RotationAction.Prepare, null, null, [], null);
            }
        }

        foreach (var authority in authorities)
        {
            if (authority.NotAfter < next)
            {
                next = authority.NotAfter;
            }
        }

        return new RotationDecision(RotationAction.None, null, null, [], next);
    }

    /// <summary>When the next authority is prepared: <c>notAfter - min((notAfter - issuedAt) / 2, 30 d)</c>.</summary>
    public static DateTimeOffset PreparationThreshold(DateTimeOffset issuedAt, DateTimeOffset notAfter) =>
        notAfter - Min((notAfter - issuedAt) / 2, PreparationThresholdCap);

    /// <summary>When the prepared authority is activated: <c>notAfter - min((notAfter - issuedAt) / 6, 7 d)</c>.</summary>
    public static DateTimeOffset ActivationThreshold(DateTimeOffset issuedAt, DateTimeOffset notAfter) =>
        notAfter - Min((notAfter - issuedAt) / 6, ActivationThresholdCap);

    /// <summary>The issue time of a record: CreatedAt, or NotBefore when CreatedAt is unset.</summary>
    public static DateTimeOffset IssuedAt(AuthorityRecord authority)
    {
        ArgumentNullException.ThrowIfNull(authority);
        return authority.CreatedAt == default ? authority.NotBefore : authority.CreatedAt;
    }

    /// <summary>
    /// The longest SVID TTL a CA of lifetime <paramref name="caLifetime"/> grants: <c>min(caLifetime / 6, 7 d)</c>,
    /// the lead time of activation, so an SVID is never cut short by a scheduled rotation.
    /// </summary>
    public static TimeSpan MaxSvidTtl(TimeSpan caLifetime) => Min(caLifetime / 6, ActivationThresholdCap);

    /// <summary>
    /// The validity window of an SVID issued at <paramref name="now"/> by a CA valid from
    /// <paramref name="caNotBefore"/> to <paramref name="caNotAfter"/>: notBefore =
    /// <c>max(now - 10 s, caNotBefore)</c>, notAfter = <c>min(now + min(requested, MaxSvidTtl), caNotAfter)</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The requested TTL is not positive.</exception>
    /// <exception cref="InvalidOperationException">The CA is not valid at <paramref name="now"/>.</exception>
    public static (DateTimeOffset NotBefore, DateTimeOffset NotAfter) SvidWindow(
        DateTimeOffset now, TimeSpan requestedTtl, DateTimeOffset caNotBefore, DateTimeOffset caNotAfter)
    {
        if (requestedTtl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(requestedTtl), requestedTtl, "svid ttl must be positive");
        }

        if (now >= caNotAfter || now < caNotBefore)
        {
            throw new InvalidOperationException($"ca is not valid now (valid from {caNotBefore:O} to {caNotAfter:O})");
        }

        var ttl = Min(requestedTtl, MaxSvidTtl(caNotAfter - caNotBefore));
        var notBefore = now - Backdate < caNotBefore ? caNotBefore : now - Backdate;
        var notAfter = now + ttl > caNotAfter ? caNotAfter : now + ttl;
        return (notBefore, notAfter);
    }

    private static AuthorityRecord? Latest(IReadOnlyList<AuthorityRecord> authorities, AuthorityState state)
    {
        AuthorityRecord? latest = null;
        foreach (var authority in authorities)
        {
            if (authority.State == state && (latest is null || authority.NotAfter > latest.NotAfter))
            {
                latest = authority;
            }
        }

        return latest;
    }

    private static void Validate(IReadOnlyList<AuthorityRecord> authorities)
    {
        for (var i = 0; i < authorities.Count; i++)
        {
            var authority = authorities[i] ?? throw new ArgumentException("authorities holds a null", nameof(authorities));
            if (authority.NotAfter <= authority.NotBefore)
            {
                throw new ArgumentException($"authority \"{authority.Id}\" has notAfter at or before notBefore", nameof(authorities));
            }

            if (authority.Kind != authorities[0].Kind || !string.Equals(authority.ServerId, authorities[0].ServerId, StringComparison.Ordinal))
            {
                throw new ArgumentException("authorities must all be of one kind and one server", nameof(authorities));
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
