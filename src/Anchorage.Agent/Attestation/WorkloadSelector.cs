namespace Anchorage.Agent.Attestation;

/// <summary>
/// One fact about a workload, such as <c>unix:uid:1000</c>: <see cref="Type"/> names the
/// attestor (<c>unix</c>) and <see cref="Value"/> the fact (<c>uid:1000</c>). Registration
/// entries match workloads by these selectors.
/// </summary>
/// <param name="Type">The attestor that produced the selector, e.g. <c>unix</c>.</param>
/// <param name="Value">The fact, e.g. <c>uid:1000</c>.</param>
public readonly record struct WorkloadSelector(string Type, string Value)
{
    /// <summary>The selector as <c>type:value</c>.</summary>
    public override string ToString() => $"{Type}:{Value}";
}
