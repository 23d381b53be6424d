using System.CommandLine;
using Anchorage.Protos.Common.V1;

namespace Anchorage.Cli.Internal;

/// <summary>
/// The entry flags <c>entry create</c> and <c>entry update</c> share, and how given flags are
/// applied to an entry (flags not on the command line leave the entry as it is).
/// </summary>
internal sealed class EntryFlags
{
    public Option<string> SpiffeId { get; } = new("--spiffe-id") { Description = "the SPIFFE ID workloads matching the entry receive" };

    public Option<string> ParentId { get; } = new("--parent-id") { Description = "the agent (or node alias) SPIFFE ID the entry applies under" };

    public Option<string[]> Selectors { get; } = Repeatable("--selector", "a type:value selector, e.g. unix:uid:1000; repeatable, all must match");

    public Option<string> X509Ttl { get; } = new("--x509-ttl") { Description = "X.509-SVID lifetime, e.g. 1h (default: the server's)" };

    public Option<string> JwtTtl { get; } = new("--jwt-ttl") { Description = "JWT-SVID lifetime, e.g. 5m (default: the server's)" };

    public Option<string[]> FederatesWith { get; } = Repeatable("--federates-with", "a foreign trust domain whose bundle the workloads receive; repeatable");

    public Option<string[]> DnsNames { get; } = Repeatable("--dns", "a DNS name added to the X.509-SVID; repeatable");

    public Option<string> Hint { get; } = new("--hint") { Description = "a hint telling several SVIDs of one workload apart" };

    public Option<bool> Admin { get; } = new("--admin") { Description = "holders may use the admin API" };

    public Option<bool> Downstream { get; } = new("--downstream") { Description = "holders may mint SVIDs for a downstream server" };

    public IEnumerable<Option> All => [SpiffeId, ParentId, Selectors, X509Ttl, JwtTtl, FederatesWith, DnsNames, Hint, Admin, Downstream];

    public void AddTo(Command command)
    {
        foreach (var option in All)
        {
            command.Add(option);
        }
    }

    /// <summary>The flags given on the command line, by name.</summary>
    public IEnumerable<string> Given(ParseResult parse) => All.Where(o => IsGiven(parse, o)).Select(o => o.Name);

    /// <summary>Validates the given flags and writes them into <paramref name="entry"/>.</summary>
    /// <exception cref="CliException">A value is malformed (exit 2), naming the flag.</exception>
    public void Apply(ParseResult parse, Entry entry)
    {
        if (IsGiven(parse, SpiffeId))
        {
            entry.SpiffeId = Identifiers.SpiffeId("--spiffe-id", parse.GetRequiredValue(SpiffeId));
        }

        if (IsGiven(parse, ParentId))
        {
            entry.ParentId = Identifiers.SpiffeId("--parent-id", parse.GetRequiredValue(ParentId));
        }

        if (IsGiven(parse, Selectors))
        {
            entry.Selectors.Clear();
            entry.Selectors.AddRange(parse.GetRequiredValue(Selectors).Select(s => Identifiers.Selector("--selector", s)));
        }

        if (IsGiven(parse, X509Ttl))
        {
            entry.X509SvidTtlSeconds = (long)Durations.Parse("--x509-ttl", parse.GetRequiredValue(X509Ttl)).TotalSeconds;
        }

        if (IsGiven(parse, JwtTtl))
        {
            entry.JwtSvidTtlSeconds = (long)Durations.Parse("--jwt-ttl", parse.GetRequiredValue(JwtTtl)).TotalSeconds;
        }

        if (IsGiven(parse, FederatesWith))
        {
            entry.FederatesWith.Clear();
            entry.FederatesWith.AddRange(parse.GetRequiredValue(FederatesWith).Select(td => Identifiers.TrustDomain("--federates-with", td)));
        }

        if (IsGiven(parse, DnsNames))
        {
            entry.DnsNames.Clear();
            entry.DnsNames.AddRange(parse.GetRequiredValue(DnsNames).Select(name => Identifiers.DnsName("--dns", name)));
        }

        if (IsGiven(parse, Hint))
        {
            entry.Hint = parse.GetValue(Hint) ?? string.Empty;
        }

        if (IsGiven(parse, Admin))
        {
            entry.Admin = parse.GetValue(Admin);
        }

        if (IsGiven(parse, Downstream))
        {
            entry.Downstream = parse.GetValue(Downstream);
        }
    }

    // Flags like --admin have an implicit value even when absent; only explicit ones count.
    private static bool IsGiven(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static Option<string[]> Repeatable(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
}
