namespace Anchorage.Spiffe.Authorization;

/// <summary>
/// The answer of an <see cref="Authorizer"/>: allowed or not, and a one-line reason an operator
/// can read in a log or an audit record. A denial is a result, not an exception.
/// </summary>
public readonly record struct AuthorizationResult(bool IsAllowed, string Reason)
{
    /// <summary>An allowing result.</summary>
    public static AuthorizationResult Allow(string reason) => new(true, reason);

    /// <summary>A denying result.</summary>
    public static AuthorizationResult Deny(string reason) => new(false, reason);
}
