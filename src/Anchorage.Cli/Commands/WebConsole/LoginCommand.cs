using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.WebConsole;

/// <summary>
/// <c>anchorage console login</c>: asks the server (admin socket) for a one-time URL of the read-only
/// web console. The URL's token works once, within 60 seconds, and becomes a session cookie in the
/// browser that opens it. Prints the URL alone; with <c>--output json</c> also its expiry.
/// </summary>
internal static class LoginCommand
{
    public static Command Create(CliContext context) => AdminQueryCommand.Create(
        context,
        "login",
        "print a one-time URL that opens the web console (valid once, for 60 s)",
        (c, o) => c.CreateConsoleLoginAsync(new CreateConsoleLoginRequest(), o),
        (w, login) => w.WriteLine(login.Url));
}
