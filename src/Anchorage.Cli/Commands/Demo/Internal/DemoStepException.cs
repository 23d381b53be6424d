namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>A demo step did not behave as expected; the message says what was seen, in one line.</summary>
internal sealed class DemoStepException(string message) : Exception(message);
