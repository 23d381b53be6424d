using System.CommandLine;
using Spectre.Console;

namespace Anchorage.Cli.Internal;

/// <summary>Output formats a listing verb offers.</summary>
internal enum OutputFormat
{
    Table,
    Json,
}

/// <summary>The shared <c>--output table|json</c> option and a plain console for tables.</summary>
internal static class OutputOption
{
    public static Option<OutputFormat> Create() => new("--output", "-o")
    {
        Description = "output format: table (default) or json",
        DefaultValueFactory = _ => OutputFormat.Table,
        CustomParser = result => result.Tokens.Single().Value switch
        {
            "table" => OutputFormat.Table,
            "json" => OutputFormat.Json,
            var other => Fail(result, other),
        },
    };

    private static OutputFormat Fail(System.CommandLine.Parsing.ArgumentResult result, string value)
    {
        result.AddError($"--output \"{value}\" is not one of: table, json");
        return OutputFormat.Table;
    }

    /// <summary>A Spectre console writing plain text (no colour codes) to <paramref name="writer"/>.</summary>
    public static IAnsiConsole Console(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
        Out = new AnsiConsoleOutput(writer),
    });
}
