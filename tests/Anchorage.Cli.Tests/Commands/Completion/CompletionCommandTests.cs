using System.Diagnostics;
using System.Text.RegularExpressions;
using Anchorage.Testing;

namespace Anchorage.Cli.Tests.Commands.Completion;

/// <summary><c>anchorage completion bash</c> and <c>anchorage --version</c>.</summary>
public class CompletionCommandTests
{
    // The apphost of the referenced CLI project, next to the tests.
    private static readonly string Anchorage = Path.Combine(AppContext.BaseDirectory, "anchorage");

    [Theory]
    [InlineData("entry cr", "create")]
    [InlineData("entry create --spi", "--spiffe-id")]
    [InlineData("authority x509 t", "taint")]
    [InlineData("fed", "federation")]
    [InlineData("completion b", "bash")]
    public void Bash_ScriptSourcedInBash_CompletesFromTheBinary(string typed, string expected)
    {
        var script = CliRunner.Run("completion", "bash");
        Assert.Equal(0, script.ExitCode);

        var replies = Complete(script.Out, typed);

        Assert.Equal([expected], replies);
    }

    [Fact]
    public void Bash_PrefixMatchesNothing_NoReplies()
    {
        var script = CliRunner.Run("completion", "bash");

        Assert.Empty(Complete(script.Out, "entry zz"));
    }

    [Fact]
    public void Completion_UnknownShell_UsageError()
    {
        var result = CliRunner.Run("completion", "fish");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: Argument 'fish' not recognized. Must be one of:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_VersionPlusTheCommitItWasBuiltFrom()
    {
        // As a process: in-process the entry assembly (whose version is printed) is the test host.
        var psi = new ProcessStartInfo(Anchorage, ["--version"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "anchorage --version did not finish within 60 s");
        var result = new CliResult(process.ExitCode, output, string.Empty);

        Assert.Equal(0, result.ExitCode);
        var match = Regex.Match(result.Out, @"^0\.1\.0\+([0-9a-f]{40})(\.dirty)?\n$");
        Assert.True(match.Success, "unexpected --version output: " + result.Out);

        // The commit exists in this repository (the build stamped the real one).
        var git = Process.Start(new ProcessStartInfo("git", ["-C", Processes.RepoRoot(), "cat-file", "-e", match.Groups[1].Value + "^{commit}"]))!;
        git.WaitForExit();
        Assert.Equal(0, git.ExitCode);
    }

    private static string[] Complete(string script, string typed)
    {
        var dir = Directory.CreateTempSubdirectory("anchorage-completion-");
        try
        {
            var file = Path.Combine(dir.FullName, "anchorage.bash");
            File.WriteAllText(file, script);
            var line = Anchorage + " " + typed;
            var psi = new ProcessStartInfo("bash")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("""
                source "$1"
                COMP_LINE=$2
                COMP_POINT=${#COMP_LINE}
                read -r -a COMP_WORDS <<<"$COMP_LINE"
                [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                _anchorage_complete
                printf '%s\n' "${COMPREPLY[@]}"
                """);
            psi.ArgumentList.Add("bash");
            psi.ArgumentList.Add(file);
            psi.ArgumentList.Add(line);
            using var bash = Process.Start(psi)!;
            var stderr = bash.StandardError.ReadToEndAsync();
            var stdout = bash.StandardOutput.ReadToEnd();
            Assert.True(bash.WaitForExit(60_000), "bash did not finish within 60 s");
            Assert.True(bash.ExitCode == 0, $"bash exited {bash.ExitCode}: {stderr.Result}");
            return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
