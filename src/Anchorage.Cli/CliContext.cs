namespace Anchorage.Cli;

/// <summary>
/// What a CLI verb may touch besides its arguments: where it writes and what time it is.
/// Tests pass their own writers and a fake clock.
/// </summary>
internal sealed record CliContext(TextWriter Out, TextWriter Error, TimeProvider Time);
