namespace Anchorage.Server.Ca;

/// <summary>What <see cref="RotationPlanner"/> says to do next with one kind of authority.</summary>
public enum RotationAction
{
    /// <summary>Nothing is due; look again at <see cref="RotationDecision.NextDecisionAt"/>.</summary>
    None,

    /// <summary>Create a new authority in the Prepared slot (it enters the bundle before it signs).</summary>
    Prepare,

    /// <summary>Make <see cref="RotationDecision.Authority"/> Active; the current active one (if any) becomes Old.</summary>
    Activate,

    /// <summary>Drop <see cref="RotationDecision.Expired"/> from the journal (and their keys): they have expired.</summary>
    Retire,
}
