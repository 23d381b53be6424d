using System.Text;
using Anchorage.Policy;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// A communication policy file: <see cref="PolicyDocument.Parse"/>, then, when valid,
/// <see cref="CompiledPolicy.Compile"/> and a few decisions. Documented failure: the error list of
/// the result; nothing may be thrown (Compile's ArgumentException is for rules PolicyDocument never makes).
/// </summary>
internal sealed class PolicyTarget : FuzzTarget
{
    private static readonly HashSet<string> Selectors = ["unix:uid:1000", "unix:path:/usr/bin/web"];

    private static readonly PolicyRequest[] Requests =
    [
        new(SpiffeId.Parse("spiffe://acme.corp/web/a"), Selectors, SpiffeId.Parse("spiffe://payments.acme.corp/api"), 8443),
        new(SpiffeId.Parse("spiffe://legacy.acme.corp/x"), new HashSet<string>(), SpiffeId.Parse("spiffe://acme.corp/db"), 5432),
    ];

    public override string Name => "policy";

    public override string Expected => "PolicyDocument.Parse: errors in the result, never an exception";

    public override void Run(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        var result = PolicyDocument.Parse(text, PolicyDocument.DefaultSourceName);
        FuzzPropertyException.Check(result.IsValid != (result.Errors.Length > 0), "a policy result has both or neither of a value and errors");
        if (result.Value is { } policy)
        {
            var compiled = CompiledPolicy.Compile(policy, PolicyDocument.ContentVersion(text));
            foreach (var request in Requests)
            {
                // The indexed decision against the plain rule-by-rule reading of Explain: deny wins, then allow, else default.
                var decision = compiled.Decide(request);
                var matched = compiled.Explain(request).Considered.Where(r => r.Matched).ToList();
                var allowed = !matched.Any(r => r.Rule.Action == PolicyAction.Deny) && matched.Any(r => r.Rule.Action == PolicyAction.Allow);
                FuzzPropertyException.Check(decision.Allowed == allowed, "Decide disagrees with the rule-by-rule evaluation");
            }
        }
    }
}
