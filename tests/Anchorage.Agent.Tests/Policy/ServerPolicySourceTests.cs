using Anchorage.Agent.Policy;
using Anchorage.Policy;
using Anchorage.Testing.Logging;

namespace Anchorage.Agent.Tests.Policy;

public sealed class ServerPolicySourceTests : IDisposable
{
    private readonly LogCapture _log = new();

    public void Dispose() => _log.Dispose();

    [Fact]
    public void Current_NothingOffered_DenyAll()
    {
        var source = new ServerPolicySource(_log.Logger);

        Assert.Same(CompiledPolicy.DenyAll, source.Current);
        Assert.Equal(0, source.KnownVersion);
    }

    [Fact]
    public void Offer_NewVersions_CompiledUnderServerVersionChangedOncePerVersion()
    {
        var source = new ServerPolicySource(_log.Logger);
        var changes = 0;
        source.Changed += (_, _) => changes++;

        Assert.True(source.Offer(3, PolicyTexts.Valid()));
        Assert.False(source.Offer(3, PolicyTexts.Valid()));

        Assert.Equal(1, changes);
        Assert.Equal("3", source.Current.Version);
        Assert.Equal("acme", source.Current.Name);
        Assert.Equal(["web-to-api"], source.Current.Rules.Select(r => r.Name));
        Assert.Equal(3, source.KnownVersion);
        Assert.Equal(["policy acme version 3 in force (1 rules, from the server)"], _log.Messages(2301));

        Assert.True(source.Offer(4, PolicyTexts.Valid(action: "deny")));
        Assert.Equal(2, changes);
        Assert.Equal("4", source.Current.Version);
        Assert.Equal(PolicyAction.Deny, source.Current.Rules[0].Action);
    }

    [Fact]
    public void Offer_InvalidVersion_LastGoodKeptOneLineLoggedVersionKnown()
    {
        var source = new ServerPolicySource(_log.Logger);
        source.Offer(1, PolicyTexts.Valid());
        var changes = 0;
        source.Changed += (_, _) => changes++;

        Assert.False(source.Offer(2, PolicyTexts.Invalid()));
        Assert.False(source.Offer(2, PolicyTexts.Invalid()));

        Assert.Equal(0, changes);
        Assert.Equal("1", source.Current.Version);
        Assert.Equal(2, source.KnownVersion);
        Assert.Equal(
            [
                "policy from server-policy-v2 rejected, keeping version 1: " +
                "server-policy-v2:7: spec.rules[0].action: \"maybe\" is not allow or deny; " +
                "server-policy-v2:9: spec.rules[0].to.port: \"0\" is not a port (a number from 1 to 65535)",
            ],
            _log.Messages(2302));

        // Positive control: the next valid version is taken.
        Assert.True(source.Offer(3, PolicyTexts.Valid(name: "acme-3")));
        Assert.Equal("3", source.Current.Version);
        Assert.Equal(1, changes);
    }
}
