namespace Anchorage.Cli;

/// <summary>The CLI's exit codes; every verb uses exactly these.</summary>
internal static class ExitCodes
{
    /// <summary>The operation succeeded (the SVID or token is valid).</summary>
    public const int Success = 0;

    /// <summary>The input was read and rejected (an invalid SVID, a denied request).</summary>
    public const int Rejected = 1;

    /// <summary>The command line was wrong, or a file could not be read or parsed.</summary>
    public const int UsageOrIo = 2;

    /// <summary>
    /// A daemon (<c>server run</c>, <c>agent run</c>) stopped on an error nothing handled: a bug,
    /// logged in full. 70 is EX_SOFTWARE of sysexits.h; the service units restart on it.
    /// </summary>
    public const int Internal = 70;
}
