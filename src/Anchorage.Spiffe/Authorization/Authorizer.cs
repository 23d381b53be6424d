using System.Collections.Frozen;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Authorization;

/// <summary>
/// Decides whether a peer's verified SPIFFE ID is acceptable. Runs after the peer's SVID has
/// been verified with the bundle of its own trust domain: an authorizer never sees an
/// unverified ID.
/// </summary>
public abstract class Authorizer
{
    /// <summary>Decides for <paramref name="id"/>.</summary>
    public abstract AuthorizationResult Authorize(SpiffeId id);

    /// <summary>Allows every verified ID (authentication only).</summary>
    public static Authorizer Any() => AnyAuthorizer.Instance;

    /// <summary>Allows exactly <paramref name="expected"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="expected"/> is empty.</exception>
    public static Authorizer Exact(SpiffeId expected)
    {
        if (expected.IsEmpty)
        {
            throw new ArgumentException("expected SPIFFE ID is empty", nameof(expected));
        }

        return new ExactAuthorizer(expected);
    }

    /// <summary>Allows any one of <paramref name="allowed"/>.</summary>
    /// <exception cref="ArgumentException">The list is empty or holds an empty ID.</exception>
    public static Authorizer OneOf(params IEnumerable<SpiffeId> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        var set = allowed.ToFrozenSet();
        if (set.Count == 0 || set.Contains(default))
        {
            throw new ArgumentException("allowed SPIFFE IDs must be non-empty and hold no empty ID", nameof(allowed));
        }

        return new OneOfAuthorizer(set);
    }

    /// <summary>Allows every ID of <paramref name="trustDomain"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="trustDomain"/> is empty.</exception>
    public static Authorizer MemberOf(TrustDomain trustDomain)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        return new MemberOfAuthorizer(trustDomain);
    }

    /// <summary>Allows the IDs for which <paramref name="predicate"/> returns true.</summary>
    /// <param name="predicate">The test; it must not throw.</param>
    /// <param name="description">What the predicate checks, used in the reason.</param>
    public static Authorizer Predicate(Func<SpiffeId, bool> predicate, string description)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        return new PredicateAuthorizer(predicate, description);
    }

    private sealed class AnyAuthorizer : Authorizer
    {
        internal static readonly AnyAuthorizer Instance = new();

        public override AuthorizationResult Authorize(SpiffeId id) =>
            AuthorizationResult.Allow("any verified SPIFFE ID is allowed");
    }

    private sealed class ExactAuthorizer(SpiffeId expected) : Authorizer
    {
        public override AuthorizationResult Authorize(SpiffeId id) => id == expected
            ? AuthorizationResult.Allow($"{id} is the expected SPIFFE ID")
            : AuthorizationResult.Deny($"{id} is not the expected SPIFFE ID {expected}");
    }

    private sealed class OneOfAuthorizer(FrozenSet<SpiffeId> allowed) : Authorizer
    {
        public override AuthorizationResult Authorize(SpiffeId id) => allowed.Contains(id)
            ? AuthorizationResult.Allow($"{id} is one of {allowed.Count} allowed SPIFFE IDs")
            : AuthorizationResult.Deny($"{id} is not one of {allowed.Count} allowed SPIFFE IDs");
    }

    private sealed class MemberOfAuthorizer(TrustDomain trustDomain) : Authorizer
    {
        public override AuthorizationResult Authorize(SpiffeId id) => id.MemberOf(trustDomain)
            ? AuthorizationResult.Allow($"{id} is a member of trust domain {trustDomain}")
            : AuthorizationResult.Deny($"{id} is not a member of trust domain {trustDomain}");
    }

    private sealed class PredicateAuthorizer(Func<SpiffeId, bool> predicate, string description) : Authorizer
    {
        public override AuthorizationResult Authorize(SpiffeId id) => predicate(id)
            ? AuthorizationResult.Allow($"{id} satisfies {description}")
            : AuthorizationResult.Deny($"{id} does not satisfy {description}");
    }
}
