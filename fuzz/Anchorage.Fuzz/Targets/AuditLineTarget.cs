using System.Text;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Audit;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// One line of the audit file as <c>anchorage audit tail</c> reads it (<c>AuditOutput.TryParse</c>,
/// <c>AuditOutput.Summary</c>, <c>AuditFilter.Matches</c>) and as <see cref="AuditJson.Parse"/> reads
/// it back. Documented failures: null from TryParse (the tail reports the line and skips it),
/// FormatException from AuditJson.Parse.
/// </summary>
internal sealed class AuditLineTarget : FuzzTarget
{
    private static readonly AuditFilter[] Filters =
    [
        AuditFilter.Parse("decision=deny"),
        AuditFilter.Parse("process.pid=4242"),
        AuditFilter.Parse("authoritiesAdded=a"),
    ];

    public override string Name => "audit-line";

    public override string Expected => "AuditOutput.TryParse: null; AuditJson.Parse: FormatException";

    public override void Run(byte[] input)
    {
        var line = Encoding.UTF8.GetString(input);
        using (var record = AuditOutput.TryParse(line))
        {
            if (record is not null)
            {
                var summary = AuditOutput.Summary(record.RootElement);
                FuzzPropertyException.Check(!summary.Contains('\n', StringComparison.Ordinal), "an audit summary spans lines");
                foreach (var filter in Filters)
                {
                    _ = filter.Matches(record.RootElement);
                }
            }
        }

        try
        {
            var parsed = AuditJson.Parse(line);
            _ = AuditJson.ToLine(parsed);
        }
        catch (FormatException)
        {
        }
    }
}
