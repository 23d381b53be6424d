using Anchorage.Foundation.Config;
using Anchorage.Server.Federation;

namespace Anchorage.Server.Config.Internal;

/// <summary>Reads <c>governance: { onReviewDue: flag|suspend, unusedAfter }</c>.</summary>
internal static class GovernanceConfig
{
    /// <summary>The smallest <c>unusedAfter</c>: 1m.</summary>
    public static readonly TimeSpan MinUnusedAfter = TimeSpan.FromMinutes(1);

    public static GovernanceOptions Read(ConfigMap section)
    {
        var defaults = new GovernanceOptions();
        var actionNode = section.Get("onReviewDue");
        var actionText = actionNode?.Scalar();
        ReviewDueAction? action = actionText switch
        {
            null => null,
            "flag" => ReviewDueAction.Flag,
            "suspend" => ReviewDueAction.Suspend,
            _ => null,
        };
        if (actionText is not null && action is null)
        {
            actionNode!.Error($"{ConfigText.Quote(actionText)} is not one of flag, suspend");
        }

        var unusedNode = section.Get("unusedAfter");
        var unused = unusedNode?.Duration();
        section.RejectUnknownKeys();
        if (unused is { } value && value < MinUnusedAfter)
        {
            unusedNode!.Error($"must be at least {Durations.Format(MinUnusedAfter)}");
            unused = null;
        }

        return new GovernanceOptions
        {
            OnReviewDue = action ?? defaults.OnReviewDue,
            UnusedAfter = unused ?? defaults.UnusedAfter,
        };
    }
}
