using System.CommandLine;
using System.Security.Cryptography;

namespace Anchorage.Cli;

/// <summary>
/// Builds the <c>anchorage</c> command tree and runs it with the exit-code contract:
/// 0 success, 1 rejected, 2 usage or I/O error; one line on stderr, never a stack trace.
/// </summary>
internal static class CliApp
{
    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var root = BuildRoot(context);

        // `@FILE` is ours (--token @FILE), not System.CommandLine's response-file syntax.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await context.Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            }

            await context.Error.WriteLineAsync("run 'anchorage --help' for usage").ConfigureAwait(false);
            return ExitCodes.UsageOrIo;
        }

        var invocation = new InvocationConfiguration
        {
            Output = context.Out,
            Error = context.Error,
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            await context.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await context.Error.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.UsageOrIo;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            await context.Error.WriteLineAsync("error: " + OneLine(ex.Message)).ConfigureAwait(false);
            return ExitCodes.UsageOrIo;
        }
    }

    internal static RootCommand BuildRoot(CliContext context)
    {
        var root = new RootCommand("anchorage: SPIFFE workload identity, federation and connect-time enforcement");
        root.Add(Noun("svid", "X.509-SVIDs", Commands.Svid.VerifyCommand.Create(context)));
        root.Add(Noun(
            "jwt",
            "JWT-SVIDs",
            Commands.Jwt.ValidateCommand.Create(context),
            Commands.Jwt.MintCommand.Create(context)));
        root.Add(Noun("x509", "X.509-SVIDs minted by the server", Commands.X509.MintCommand.Create(context)));
        root.Add(Noun(
            "bundle",
            "trust bundles",
            Commands.Bundle.InspectCommand.Create(context),
            Commands.Bundle.ConvertCommand.Create(context),
            Commands.Bundle.ShowCommand.Create(context),
            Commands.Bundle.ListCommand.Create(context),
            Commands.Bundle.SetCommand.Create(context),
            Commands.Bundle.DeleteCommand.Create(context)));
        root.Add(Noun(
            "entry",
            "registration entries (admin API)",
            Commands.Entry.CreateCommand.Create(context),
            Commands.Entry.ListCommand.Create(context),
            Commands.Entry.ShowCommand.Create(context),
            Commands.Entry.UpdateCommand.Create(context),
            Commands.Entry.DeleteCommand.Create(context),
            Commands.Entry.CountCommand.Create(context)));
        root.Add(Noun("token", "agent join tokens (admin API)", Commands.Token.GenerateCommand.Create(context)));
        root.Add(Noun(
            "federation",
            "federation relationships with other trust domains (admin API)",
            Commands.Federation.ApplyCommand.Create(context),
            Commands.Federation.ListCommand.Create(context),
            Commands.Federation.ShowCommand.Create(context),
            Commands.Federation.MapCommand.Create(context),
            Commands.Federation.RefreshCommand.Create(context),
            Commands.Federation.ApproveCommand.Create(context),
            Commands.Federation.RevokeApprovalCommand.Create(context),
            Commands.Federation.DeleteCommand.Create(context)));
        root.Add(Noun(
            "agent",
            "the node agent (run, healthcheck, Workload API) and attested agents (admin API)",
            Commands.Agent.ListCommand.Create(context),
            Commands.Agent.ShowCommand.Create(context),
            Commands.Agent.EvictCommand.Create(context),
            Commands.Agent.BanCommand.Create(context),
            Commands.Agent.RunCommand.Create(context),
            Commands.Agent.ApiCommand.Create(context),
            Commands.Agent.HealthcheckCommand.Create(context)));
        root.Add(Noun(
            "server",
            "the control plane",
            Commands.Server.RunCommand.Create(context),
            Commands.Server.HealthcheckCommand.Create(context),
            Commands.Server.BackupCommand.Create(context),
            Commands.Server.RestoreCommand.Create(context)));
        root.Add(Noun("authority", "the server's signing authorities (admin API)", AuthorityKind(context, "x509"), AuthorityKind(context, "jwt")));
        root.Add(Commands.Inventory.InventoryCommand.Create(context));
        root.Add(Noun("console", "the read-only web console (admin API)", Commands.WebConsole.LoginCommand.Create(context)));
        root.Add(Noun(
            "audit",
            "the audit trail (JSON lines written by the agent's gate and the server)",
            Commands.Audit.TailCommand.Create(context),
            Commands.Audit.TraceCommand.Create(context)));
        root.Add(Noun(
            "policy",
            "communication policy",
            Commands.Policy.PolicyCheckCommand.Create(context),
            Commands.Policy.PolicyDiffCommand.Create(context),
            Commands.Policy.PolicyApplyCommand.Create(context),
            Commands.Policy.PolicyShowCommand.Create(context)));
        root.Add(Commands.Demo.DemoCommand.Create(context));
        root.Add(Commands.Completion.CompletionCommand.Create(context));
        return root;
    }

    private static Command AuthorityKind(CliContext context, string kind) => Noun(
        kind,
        $"{kind} signing authorities",
        Commands.Authority.ShowCommand.Create(context, kind),
        Commands.Authority.PrepareCommand.Create(context, kind),
        Commands.Authority.ActivateCommand.Create(context, kind),
        Commands.Authority.TaintCommand.Create(context, kind),
        Commands.Authority.RevokeCommand.Create(context, kind));

    private static Command Noun(string name, string description, params Command[] verbs)
    {
        var noun = new Command(name, description);
        foreach (var verb in verbs)
        {
            noun.Add(verb);
        }

        return noun;
    }

    internal static string OneLine(string message)
    {
        var newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
