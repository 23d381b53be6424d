using Anchorage.Foundation.Audit;
using Anchorage.Testing.Audit;

namespace Anchorage.Foundation.Tests.Audit;

public class AuditJsonTests
{
    [Fact]
    public void ToLine_ConnectionRecord_UsesTheDocumentedFieldNames()
    {
        var record = new AuditRecord
        {
            Time = new DateTimeOffset(2026, 11, 23, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(1234567),
            Kind = AuditKinds.Connection,
            ConnectionId = "c-1",
            Direction = "outbound",
            Listener = "payments",
            Decision = "deny",
            Reason = "policy",
            Rule = "no-legacy",
            PolicyVersion = "7",
            Process = new AuditProcess(4242, "/usr/bin/web", "ab12", 1000, 1001, 987654321),
            SpiffeId = "spiffe://acme.corp/web",
            PeerSpiffeId = "spiffe://payments.acme.corp/api",
            PeerTrustDomain = "payments.acme.corp",
            BundleSequence = 12,
            Remote = "127.0.0.1:8443",
            BytesIn = 10,
            BytesOut = 20,
            DurationMs = 1.5,
        };

        Assert.Equal(
            """{"time":"2026-11-23T01:04:05.1234567Z","kind":"connection","connectionId":"c-1","direction":"outbound","listener":"payments","decision":"deny","reason":"policy","rule":"no-legacy","policyVersion":"7","process":{"pid":4242,"exe":"/usr/bin/web","sha256":"ab12","uid":1000,"gid":1001,"startTime":987654321},"spiffeId":"spiffe://acme.corp/web","peerSpiffeId":"spiffe://payments.acme.corp/api","peerTrustDomain":"payments.acme.corp","bundleSequence":12,"remote":"127.0.0.1:8443","bytesIn":10,"bytesOut":20,"durationMs":1.5}""",
            AuditJson.ToLine(record));
    }

    [Fact]
    public void ToLine_ChangeRecord_LeavesNullFieldsOut()
    {
        var record = new AuditRecord
        {
            Time = new DateTimeOffset(2026, 11, 23, 1, 0, 0, TimeSpan.Zero),
            Kind = AuditKinds.FederationFetch,
            TrustDomain = "payments.acme.corp",
            Url = "https://payments.acme.corp:8443/",
            Outcome = "updated",
            Sequence = 3,
            AuthoritiesAdded = ["k2"],
            AuthoritiesRemoved = [],
        };

        Assert.Equal(
            """{"time":"2026-11-23T01:00:00.0000000Z","kind":"federation-fetch","trustDomain":"payments.acme.corp","url":"https://payments.acme.corp:8443/","outcome":"updated","sequence":3,"authoritiesAdded":["k2"],"authoritiesRemoved":[]}""",
            AuditJson.ToLine(record));
    }

    [Fact]
    public void ToLine_LineBreaksAndControlCharacters_StayOnOneLine()
    {
        var record = new AuditRecord { Time = Records.T0, Kind = AuditKinds.Policy, Detail = "a\nb\u001b[31m<+>é" };

        var line = AuditJson.ToLine(record);

        Assert.Equal("""{"time":"2026-11-23T01:00:00.0000000Z","kind":"policy","detail":"a\nb\u001B[31m<+>é"}""", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void Parse_Line_RoundTrips()
    {
        var record = Records.Numbered(5) with { Process = new AuditProcess(1, "/bin/x", null, 0, 0, 9), AuthoritiesAdded = ["a"] };

        var back = AuditJson.Parse(AuditJson.ToLine(record));

        Assert.Equal(AuditJson.ToLine(record), AuditJson.ToLine(back));
        Assert.Equal(record.Time, back.Time);
    }

    [Theory]
    [InlineData("""{"time":"2026-11-23T01:00:00Z"}""")]
    [InlineData("""{"kind":"policy"}""")]
    [InlineData("""[1]""")]
    [InlineData("""{"time":"yesterday","kind":"policy"}""")]
    [InlineData("""{"time":""")]
    public void Parse_NotARecord_ThrowsFormatException(string line)
    {
        var e = Assert.Throws<FormatException>(() => AuditJson.Parse(line));
        Assert.StartsWith("not an audit record: ", e.Message);
        Assert.Equal("policy", AuditJson.Parse("""{"time":"2026-11-23T01:00:00Z","kind":"policy"}""").Kind);
    }
}
