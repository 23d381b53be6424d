using System.CommandLine;

namespace Anchorage.Cli.Commands.Completion;

/// <summary>
/// <c>anchorage completion bash</c>: prints a bash completion script. The script asks the binary
/// itself for candidates through System.CommandLine's <c>[suggest:POSITION]</c> directive, so
/// completion always matches the installed version's verbs and options (no generated word list).
/// Install: <c>anchorage completion bash &gt; /etc/bash_completion.d/anchorage</c>.
/// </summary>
internal static class CompletionCommand
{
    // COMP_LINE without the program name, and the cursor position in it, go to the directive; the
    // answer (one candidate per line) is filtered by the word being completed. Windows-style
    // aliases (/?, /h) and -? are dropped; when nothing matches bash falls back to file names.
    internal const string BashScript = """
        # bash completion for anchorage; install: anchorage completion bash > /etc/bash_completion.d/anchorage
        _anchorage_complete() {
            local prog=${COMP_WORDS[0]}
            local line=${COMP_LINE:${#prog}}
            local point=$((COMP_POINT - ${#prog}))
            [[ $line == " "* ]] && { line=${line:1}; point=$((point - 1)); }
            ((point < 0)) && point=0
            local cur=${COMP_WORDS[COMP_CWORD]}
            local IFS=$'\n'
            local candidates
            candidates=$("$prog" "[suggest:$point]" "$line" 2>/dev/null | grep -v -e '^/' -e '^-?$')
            COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
        }
        complete -o default -F _anchorage_complete anchorage

        """;

    public static Command Create(CliContext context)
    {
        var shell = new Argument<string>("SHELL") { Description = "the shell: bash" };
        shell.AcceptOnlyFromAmong("bash");
        var command = new Command("completion", "print the shell completion script (bash)") { shell };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await context.Out.WriteAsync(BashScript.AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
