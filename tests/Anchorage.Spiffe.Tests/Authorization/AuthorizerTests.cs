using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Tests.Authorization;

public sealed class AuthorizerTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");
    private static readonly SpiffeId Db = SpiffeId.Parse("spiffe://acme.corp/db");

    public static TheoryData<string, Authorizer, SpiffeId, bool, string> Cases => new()
    {
        { "any", Authorizer.Any(), Api, true, "any verified SPIFFE ID is allowed" },
        { "exact match", Authorizer.Exact(Web), Web, true, "spiffe://acme.corp/web is the expected SPIFFE ID" },
        { "exact other", Authorizer.Exact(Web), Db, false, "spiffe://acme.corp/db is not the expected SPIFFE ID spiffe://acme.corp/web" },
        { "one of match", Authorizer.OneOf(Web, Api), Api, true, "spiffe://payments.acme.corp/api is one of 2 allowed SPIFFE IDs" },
        { "one of other", Authorizer.OneOf(Web, Api), Db, false, "spiffe://acme.corp/db is not one of 2 allowed SPIFFE IDs" },
        { "member", Authorizer.MemberOf(TrustDomain.Parse("acme.corp")), Db, true, "spiffe://acme.corp/db is a member of trust domain acme.corp" },
        // A sub-domain is a different trust domain: no suffix matching.
        { "member other td", Authorizer.MemberOf(TrustDomain.Parse("acme.corp")), Api, false, "spiffe://payments.acme.corp/api is not a member of trust domain acme.corp" },
        { "predicate true", Authorizer.Predicate(id => id.Path.StartsWith("/web", StringComparison.Ordinal), "path under /web"), Web, true, "spiffe://acme.corp/web satisfies path under /web" },
        { "predicate false", Authorizer.Predicate(id => id.Path.StartsWith("/web", StringComparison.Ordinal), "path under /web"), Db, false, "spiffe://acme.corp/db does not satisfy path under /web" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Authorize_Table_GivesDecisionAndReason(string name, Authorizer authorizer, SpiffeId id, bool allowed, string reason)
    {
        var result = authorizer.Authorize(id);

        Assert.True(allowed == result.IsAllowed, name);
        Assert.Equal(reason, result.Reason);
    }

    [Fact]
    public void Factories_EmptyArguments_Throw()
    {
        Assert.Throws<ArgumentException>(() => Authorizer.Exact(default));
        Assert.Throws<ArgumentException>(() => Authorizer.OneOf());
        Assert.Throws<ArgumentException>(() => Authorizer.OneOf(Web, default));
        Assert.Throws<ArgumentException>(() => Authorizer.MemberOf(default));
        Assert.Throws<ArgumentException>(() => Authorizer.Predicate(_ => true, " "));
    }
}
