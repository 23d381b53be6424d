namespace Anchorage.Cli;

/// <summary>
/// A failure a verb reports as one line on stderr with a given exit code. Verbs throw it; the
/// app prints it. Never carries key or token material.
/// </summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>A usage or I/O error (exit 2), printed as <c>error: message</c>.</summary>
    public static CliException Usage(string message) => new(ExitCodes.UsageOrIo, "error: " + message);

    /// <summary>A rejection (exit 1), printed as <c>rejected: reason</c>.</summary>
    public static CliException Rejected(string reason) => new(ExitCodes.Rejected, "rejected: " + reason);
}
