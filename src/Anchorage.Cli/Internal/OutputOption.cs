using System.CommandLine;
using Spectre.Console;

namespace Anchorage.Cli.Internal;

/// <summary>Output formats a listing verb offers.</summary>
internal enum OutputFormat
{
    Table,
    Json,

    /// <summary>A Mermaid graph (only where <see cref="OutputOption.WithMermaid"/> offers it).</summary>
    Mermaid,
}

/// <summary>The shared <c>--output table|json</c> option (<c>|mermaid</c> for graphs) and a plain console for tables.</summary>
internal static class OutputOption
{
    public static Option<OutputFormat> Create() => Create(mermaid: false);

    /// <summary><c>--output table|json|mermaid</c>, for the verbs that draw a graph.</summary>
    public static Option<OutputFormat> WithMermaid() => Create(mermaid: true);

    private static Option<OutputFormat> Create(bool mermaid) => new("--output", "-o")
    {
        Description = mermaid ? "output format: table (default), json or mermaid" : "output format: table (default) or json",
        DefaultValueFactory = _ => OutputFormat.Table,
        CustomParser = result => result.Tokens.Single().Value switch
        {
            "table" => OutputFormat.Table,
            "json" => OutputFormat.Json,
            "mermaid" when mermaid => OutputFormat.Mermaid,
            var other => Fail(result, other, mermaid ? "table, json, mermaid" : "table, json"),
        },
    };

    private static OutputFormat Fail(System.CommandLine.Parsing.ArgumentResult result, string value, string formats)
    {
        result.AddError($"--output \"{value}\" is not one of: {formats}");
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
