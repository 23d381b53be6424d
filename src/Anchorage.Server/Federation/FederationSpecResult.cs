using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Federation;

/// <summary>What <see cref="FederationRelationshipValidator.Validate"/> found: every problem, or the converted relationship.</summary>
public sealed record FederationSpecResult
{
    /// <summary>Every problem, in field order; empty when the declaration holds.</summary>
    public required IReadOnlyList<FederationSpecProblem> Problems { get; init; }

    /// <summary>The relationship, when there is no problem.</summary>
    public FederationRelationship? Relationship { get; init; }

    /// <summary>The parsed bootstrap bundle (https_spiffe), when one was given and there is no problem.</summary>
    public SpiffeBundle? Bootstrap { get; init; }

    /// <summary>True when there is no problem.</summary>
    public bool IsValid => Problems.Count == 0;
}
