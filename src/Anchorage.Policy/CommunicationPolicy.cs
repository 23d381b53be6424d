namespace Anchorage.Policy;

/// <summary>
/// A <c>CommunicationPolicy</c> resource (<c>apiVersion: anchorage.dev/v1alpha1</c>): named rules,
/// deny by default, an explicit deny wins over any allow. Read from YAML by
/// <see cref="PolicyDocument"/>; compiled for decisions by <see cref="CompiledPolicy"/>.
/// </summary>
/// <param name="Name">metadata.name.</param>
/// <param name="Rules">The rules, in file order (order does not change decisions).</param>
/// <param name="Mode">spec.mode: whether denials refuse the connection or are only recorded (<c>would-deny</c>).</param>
public sealed record CommunicationPolicy(string Name, IReadOnlyList<PolicyRule> Rules, PolicyMode Mode = PolicyMode.Enforce);
