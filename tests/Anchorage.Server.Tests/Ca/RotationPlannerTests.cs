using Anchorage.Server.Ca;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Ca;

public class RotationPlannerTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static int s_next;

    private static AuthorityRecord Record(AuthorityState state, DateTimeOffset issuedAt, TimeSpan ttl, string server = "s1", AuthorityKind kind = AuthorityKind.X509) => new()
    {
        Id = "a" + Interlocked.Increment(ref s_next).ToString(System.Globalization.CultureInfo.InvariantCulture),
        Kind = kind,
        ServerId = server,
        State = state,
        NotBefore = issuedAt - RotationPlanner.Backdate,
        NotAfter = issuedAt + ttl,
        CreatedAt = issuedAt,
    };

    // SPIRE: preparation at notAfter - min(life/2, 30d), activation at notAfter - min(life/6, 7d), life = notAfter - issuedAt.
    public static TheoryData<double, double, double, double> Thresholds => new()
    {
        // ttl hours, expected prepare-at hours, activate-at hours, max svid ttl hours
        { 24, 12, 20, 4 },
        { 1, 0.5, 5.0 / 6, 1.0 / 6 },
        { 24 * 60, 24 * 30, 24 * 53, 24 * 7 },   // 60 d: prepare capped at 30 d before, activate at 7 d before
        { 24 * 365, 24 * 335, 24 * 358, 24 * 7 },
        { 24 * 42, 24 * 21, 24 * 35, 24 * 7 },    // 42 d: life/6 = 7 d exactly
    };

    [Theory]
    [MemberData(nameof(Thresholds))]
    public void Thresholds_MatchSpireFormulas(double ttlHours, double prepareHours, double activateHours, double maxSvidHours)
    {
        var ttl = TimeSpan.FromHours(ttlHours);

        Assert.Equal(T0 + TimeSpan.FromHours(prepareHours), RotationPlanner.PreparationThreshold(T0, T0 + ttl));
        Assert.Equal(T0 + TimeSpan.FromHours(activateHours), RotationPlanner.ActivationThreshold(T0, T0 + ttl), TimeSpan.FromTicks(1));
        Assert.InRange((RotationPlanner.MaxSvidTtl(ttl) - TimeSpan.FromHours(maxSvidHours)).Duration(), TimeSpan.Zero, TimeSpan.FromTicks(1));
    }

    [Fact]
    public void Plan_Empty_PrepareNow()
    {
        var decision = RotationPlanner.Plan([], T0);

        Assert.Equal(new RotationDecision(RotationAction.Prepare, null, null, [], null), decision);
    }

    [Fact]
    public void Plan_PreparedWithoutActive_ActivateNow()
    {
        var prepared = Record(AuthorityState.Prepared, T0, TimeSpan.FromHours(24));

        var decision = RotationPlanner.Plan([prepared], T0);

        Assert.Equal(RotationAction.Activate, decision.Action);
        Assert.Same(prepared, decision.Authority);
        Assert.Null(decision.Previous);
    }

    [Fact]
    public void Plan_ActiveJustBeforeAndAtPreparation_NoneThenPrepare()
    {
        var active = Record(AuthorityState.Active, T0, TimeSpan.FromHours(24));
        var at = T0 + TimeSpan.FromHours(12);

        var before = RotationPlanner.Plan([active], at - TimeSpan.FromTicks(1));
        var on = RotationPlanner.Plan([active], at);

        Assert.Equal(new RotationDecision(RotationAction.None, null, null, [], at), before);
        Assert.Equal(RotationAction.Prepare, on.Action);
    }

    [Fact]
    public void Plan_PreparedJustBeforeAndAtActivation_NoneThenActivateDemotingActive()
    {
        var active = Record(AuthorityState.Active, T0, TimeSpan.FromHours(24));
        var prepared = Record(AuthorityState.Prepared, T0 + TimeSpan.FromHours(12), TimeSpan.FromHours(24));
        var at = T0 + TimeSpan.FromHours(20);

        var before = RotationPlanner.Plan([prepared, active], at - TimeSpan.FromTicks(1));
        var on = RotationPlanner.Plan([prepared, active], at);

        Assert.Equal(RotationAction.None, before.Action);
        Assert.Equal(at, before.NextDecisionAt);
        Assert.Equal(new RotationDecision(RotationAction.Activate, prepared, active, [], null), on with { Expired = [] });
    }

    [Fact]
    public void Plan_ServerDownPastActivationWithoutPrepared_PrepareThenActivate()
    {
        var active = Record(AuthorityState.Active, T0, TimeSpan.FromHours(24));
        var late = T0 + TimeSpan.FromHours(22);

        Assert.Equal(RotationAction.Prepare, RotationPlanner.Plan([active], late).Action);
        var prepared = Record(AuthorityState.Prepared, late, TimeSpan.FromHours(24));
        Assert.Equal(RotationAction.Activate, RotationPlanner.Plan([active, prepared], late).Action);
    }

    [Fact]
    public void Plan_OldExpired_RetireEveryExpiredWhateverItsSlot()
    {
        var old = Record(AuthorityState.Old, T0, TimeSpan.FromHours(24));
        var staleActive = Record(AuthorityState.Active, T0, TimeSpan.FromHours(25));
        var live = Record(AuthorityState.Prepared, T0 + TimeSpan.FromHours(12), TimeSpan.FromHours(24));

        var decision = RotationPlanner.Plan([old, staleActive, live], T0 + TimeSpan.FromHours(25));

        Assert.Equal(RotationAction.Retire, decision.Action);
        Assert.Equal(new[] { old, staleActive }, decision.Expired.ToArray());
        Assert.Equal(RotationAction.None, RotationPlanner.Plan([old, staleActive, live], T0 + TimeSpan.FromHours(13)).Action);
    }

    [Fact]
    public void Plan_OldExpiresBeforeNextThreshold_NextDecisionIsTheExpiry()
    {
        var old = Record(AuthorityState.Old, T0 - TimeSpan.FromHours(12), TimeSpan.FromHours(24));
        var active = Record(AuthorityState.Active, T0, TimeSpan.FromHours(24));

        Assert.Equal(T0 + TimeSpan.FromHours(12), RotationPlanner.Plan([old, active], T0 + TimeSpan.FromHours(1)).NextDecisionAt);
        old = old with { NotAfter = T0 + TimeSpan.FromHours(2) };
        Assert.Equal(T0 + TimeSpan.FromHours(2), RotationPlanner.Plan([old, active], T0 + TimeSpan.FromHours(1)).NextDecisionAt);
    }

    [Fact]
    public void Plan_MixedKindsOrServers_ThrowsArgumentException()
    {
        var a = Record(AuthorityState.Active, T0, TimeSpan.FromHours(24));

        Assert.Equal(
            "authorities must all be of one kind and one server (Parameter 'authorities')",
            Assert.Throws<ArgumentException>(() => RotationPlanner.Plan([a, Record(AuthorityState.Old, T0, TimeSpan.FromHours(24), server: "s2")], T0)).Message);
        Assert.Equal(
            "authorities must all be of one kind and one server (Parameter 'authorities')",
            Assert.Throws<ArgumentException>(() => RotationPlanner.Plan([a, Record(AuthorityState.Old, T0, TimeSpan.FromHours(24), kind: AuthorityKind.Jwt)], T0)).Message);
        Assert.Equal(RotationAction.None, RotationPlanner.Plan([a, Record(AuthorityState.Old, T0, TimeSpan.FromHours(24))], T0).Action);
    }

    public static TheoryData<double> Lifetimes => new() { 24, 1, 24 * 90 };

    /// <summary>
    /// Drives the planner with a fake clock over five CA lifetimes, applying each decision as the CA
    /// manager would, and checks the exact timeline and the invariants at every step.
    /// </summary>
    [Theory]
    [MemberData(nameof(Lifetimes))]
    public void Plan_FiveLifetimes_RotatesAtSpireThresholdsAndAlwaysHasOneActive(double ttlHours)
    {
        var ttl = TimeSpan.FromHours(ttlHours);
        var clock = new FakeTimeProvider(T0);
        var planner = new RotationPlanner(clock);
        var journal = new List<AuthorityRecord>();
        var events = new List<(TimeSpan At, RotationAction Action)>();
        var end = T0 + (5 * ttl);
        var prepareLead = ttl / 2 < RotationPlanner.PreparationThresholdCap ? ttl / 2 : RotationPlanner.PreparationThresholdCap;
        var activateLead = ttl / 6 < RotationPlanner.ActivationThresholdCap ? ttl / 6 : RotationPlanner.ActivationThresholdCap;

        for (var steps = 0; clock.GetUtcNow() < end; steps++)
        {
            Assert.True(steps < 1000, "the planner does not converge");
            var now = clock.GetUtcNow();
            var decision = planner.Plan(journal);
            switch (decision.Action)
            {
                case RotationAction.Prepare:
                    journal.Add(Record(AuthorityState.Prepared, now, ttl));
                    break;
                case RotationAction.Activate:
                    journal.Remove(decision.Authority!);
                    journal.Add(decision.Authority! with { State = AuthorityState.Active });
                    if (decision.Previous is not null)
                    {
                        journal.Remove(decision.Previous);
                        journal.Add(decision.Previous with { State = AuthorityState.Old });
                    }

                    break;
                case RotationAction.Retire:
                    journal.RemoveAll(decision.Expired.Contains);
                    break;
                default:
                    Assert.NotNull(decision.NextDecisionAt);
                    Assert.True(decision.NextDecisionAt > now);
                    clock.SetUtcNow(decision.NextDecisionAt.Value);
                    continue;
            }

            events.Add((now - T0, decision.Action));

            // Invariants after every change: at most one active, one prepared; the active one outlives
            // any SVID it may sign now (the TTL cap fits before its notAfter, until the activation point).
            Assert.True(journal.Count(a => a.State == AuthorityState.Active) <= 1);
            Assert.True(journal.Count(a => a.State == AuthorityState.Prepared) <= 1);
            var active = journal.SingleOrDefault(a => a.State == AuthorityState.Active);
            if (active is not null && decision.Action != RotationAction.Prepare)
            {
                Assert.True(active.NotAfter - now >= RotationPlanner.MaxSvidTtl(ttl), $"active authority too close to expiry at {now - T0}");
            }
        }

        // Expected: prepare+activate at 0; then for each generation k (issued at k * (ttl - prepareLead)):
        // prepare at issue + ttl - prepareLead, activate at issue + ttl - activateLead, retire at issue + ttl.
        var expected = new List<(TimeSpan, RotationAction)>();
        var step = ttl - prepareLead;
        for (var k = 0; ; k++)
        {
            var issued = k * step;
            var items = new[]
            {
                (issued + ttl - prepareLead, RotationAction.Prepare),
                (issued + ttl - activateLead, RotationAction.Activate),
                (issued + ttl, RotationAction.Retire),
            };
            var before = items.Where(e => T0 + e.Item1 < end).ToList();
            expected.AddRange(before);
            if (before.Count < items.Length)
            {
                break;
            }
        }

        expected = [
            (TimeSpan.Zero, RotationAction.Prepare),
            (TimeSpan.Zero, RotationAction.Activate),
            .. expected.OrderBy(e => e.Item1).ThenBy(e => e.Item2 == RotationAction.Retire ? 0 : e.Item2 == RotationAction.Activate ? 1 : 2),
        ];
        Assert.Equal(expected, events);
    }

    [Fact]
    public void SvidWindow_BackdatesCapsAndStopsAtCaNotAfter()
    {
        var caNotBefore = T0 - RotationPlanner.Backdate;
        var caNotAfter = T0 + TimeSpan.FromHours(24);

        Assert.Equal((T0 - RotationPlanner.Backdate, T0 + TimeSpan.FromHours(1)), RotationPlanner.SvidWindow(T0, TimeSpan.FromHours(1), caNotBefore, caNotAfter));
        var capped = RotationPlanner.SvidWindow(T0 + TimeSpan.FromHours(1), TimeSpan.FromHours(10), caNotBefore, caNotAfter);
        Assert.Equal(T0 + TimeSpan.FromHours(1) + RotationPlanner.MaxSvidTtl(caNotAfter - caNotBefore), capped.NotAfter);
        Assert.Equal(caNotAfter, RotationPlanner.SvidWindow(T0 + TimeSpan.FromHours(23.5), TimeSpan.FromHours(1), caNotBefore, caNotAfter).NotAfter);
        Assert.Equal(caNotBefore, RotationPlanner.SvidWindow(caNotBefore, TimeSpan.FromHours(1), caNotBefore, caNotAfter).NotBefore);
        Assert.Throws<InvalidOperationException>(() => RotationPlanner.SvidWindow(caNotAfter, TimeSpan.FromHours(1), caNotBefore, caNotAfter));
        Assert.Equal(
            "svid ttl must be positive (Parameter 'requestedTtl')\nActual value was 00:00:00.",
            Assert.Throws<ArgumentOutOfRangeException>(() => RotationPlanner.SvidWindow(T0, TimeSpan.Zero, caNotBefore, caNotAfter)).Message);
    }
}
