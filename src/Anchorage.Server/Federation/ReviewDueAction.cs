namespace Anchorage.Server.Federation;

/// <summary><c>governance.onReviewDue</c>: what a relationship past its review date does.</summary>
public enum ReviewDueAction
{
    /// <summary>Shows the <c>review-due</c> flag; the bundle is still handed to agents.</summary>
    Flag,

    /// <summary>Shows the flag and stops handing the bundle to agents, as for a pending relationship, until it is approved again.</summary>
    Suspend,
}
