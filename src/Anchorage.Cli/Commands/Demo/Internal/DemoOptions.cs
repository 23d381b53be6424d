namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>How <c>anchorage demo</c> was asked to run.</summary>
/// <param name="Keep">Keep the temporary directory (configs, logs, audit files) at the end.</param>
/// <param name="Sabotage">The name of a step to fail on purpose (to see the failure path), or null.</param>
internal sealed record DemoOptions(bool Keep, string? Sabotage);
