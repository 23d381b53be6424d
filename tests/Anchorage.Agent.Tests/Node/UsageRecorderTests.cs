using Anchorage.Agent.Gate;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Node;
using Anchorage.Foundation.Audit;
using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Node;

/// <summary>
/// Observed use on the agent (issue 15 item 3): the recorder's counts, last-seen times and bound,
/// and which gate records the usage sink counts.
/// </summary>
public sealed class UsageRecorderTests
{
    private static readonly TrustDomain Own = TrustDomain.Parse("acme.corp");
    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.acme.corp");
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Start);

    private static (string, string, long, long, long, long) Row(TrustDomainUsage u) =>
        (u.TrustDomain, u.Direction, u.Allowed, u.Denied, u.LastAllowed, u.LastDenied);

    [Fact]
    public void Record_AllowedAndDenied_CountedPerTrustDomainAndDirection_TakeEmptiesIt()
    {
        var usage = new UsageRecorder(Own, _time);
        usage.Record(Payments, "outbound", allowed: true, "payments");
        _time.Advance(TimeSpan.FromSeconds(10));
        usage.Record(Payments, "outbound", allowed: true, "payments");
        usage.Record(Payments, "outbound", allowed: false, "payments");
        usage.Record(Payments, "inbound", allowed: false, "payments");
        usage.Record(Payments, "inbound", allowed: true, UsageRecorder.WorkloadApiListener);

        var rows = usage.Take();

        var t = Start.ToUnixTimeSeconds();
        Assert.Equal(
            [("payments.acme.corp", "inbound", 0L, 1L, 0L, t + 10), ("payments.acme.corp", "inbound", 1L, 0L, t + 10, 0L), ("payments.acme.corp", "outbound", 2L, 1L, t + 10, t + 10)],
            rows.Select(Row));
        Assert.Equal(["payments", "workload-api", "payments"], rows.Select(r => r.Listener));
        Assert.Empty(usage.Take());
    }

    [Fact]
    public void Record_OwnTrustDomainOrUnknownDirection_NotCounted_AFederatedOne_Counted()
    {
        var usage = new UsageRecorder(Own, _time);

        usage.Record(Own, "outbound", allowed: true, "payments");
        usage.Record(default, "outbound", allowed: true, "payments");
        usage.Record(Payments, "sideways", allowed: true, "payments");
        Assert.Empty(usage.Take());

        usage.Record(Payments, "inbound", allowed: true, "payments");
        Assert.Single(usage.Take());
    }

    [Fact]
    public void Record_MoreThanMaxRowsPairs_FurtherPairsDroppedAndCounted_HeldPairsStillCount()
    {
        // A flood of distinct peer trust domains cannot grow the agent's memory without bound.
        var usage = new UsageRecorder(Own, _time);
        for (var i = 0; i < UsageRecorder.MaxRows + 5; i++)
        {
            usage.Record(TrustDomain.Parse($"td{i}.example"), "inbound", allowed: false, "payments");
        }

        usage.Record(TrustDomain.Parse("td0.example"), "inbound", allowed: false, "payments");

        Assert.Equal(5, usage.Dropped);
        var rows = usage.Take();
        Assert.Equal(UsageRecorder.MaxRows, rows.Count);
        Assert.Equal(2, rows.Single(r => r.TrustDomain == "td0.example").Denied);
    }

    [Fact]
    public void Restore_UndeliveredRows_AddedToWhatCameSince_LastSeenKeepsTheLater()
    {
        var usage = new UsageRecorder(Own, _time);
        usage.Record(Payments, "outbound", allowed: true, "payments");
        var undelivered = usage.Take();
        _time.Advance(TimeSpan.FromMinutes(1));
        usage.Record(Payments, "outbound", allowed: true, "payments");

        usage.Restore(undelivered);

        var t = Start.ToUnixTimeSeconds();
        Assert.Equal([("payments.acme.corp", "outbound", 2L, 0L, t + 60, 0L)], usage.Take().Select(Row));
    }

    public static TheoryData<string, string?, string?, string, long, long> SinkCases => new()
    {
        { "allowed", "allow", null, "payments.acme.corp", 1, 0 },
        { "shadow policy let it through", "would-deny", GateReasons.Policy, "payments.acme.corp", 1, 0 },
        { "denied by policy", "deny", GateReasons.Policy, "payments.acme.corp", 0, 1 },
        { "kept open after a policy change", "deny", GateReasons.PolicyChanged, "payments.acme.corp", 0, 0 },
        { "kept open after the bundle went", "deny", GateReasons.BundleRemoved, "payments.acme.corp", 0, 0 },
        { "unattested: no trust domain known", "deny", GateReasons.Unattested, "", 0, 0 },
    };

    [Theory]
    [MemberData(nameof(SinkCases))]
    public void UsageAuditSink_ConnectionRecord_CountedAsItsDecision_PassedOn(string why, string? decision, string? reason, string peer, long allowed, long denied)
    {
        var usage = new UsageRecorder(Own, _time);
        var next = new ListSink();
        var sink = new UsageAuditSink(next, usage);
        var record = new AuditRecord { Time = Start, Kind = AuditKinds.Connection, Direction = "outbound", Listener = "payments", Decision = decision, Reason = reason, PeerTrustDomain = peer };

        sink.Write(record);
        sink.Write(record with { Kind = AuditKinds.ConnectionClosed, Decision = null });

        Assert.Equal([record, record with { Kind = AuditKinds.ConnectionClosed, Decision = null }], next.Records);
        var rows = usage.Take();
        Assert.True((allowed, denied) == (rows.Sum(r => r.Allowed), rows.Sum(r => r.Denied)), why);
        Assert.All(rows, r => Assert.Equal("payments", r.Listener));
    }

    private sealed class ListSink : IAuditSink
    {
        public List<AuditRecord> Records { get; } = [];

        public void Write(AuditRecord record) => Records.Add(record);
    }
}
