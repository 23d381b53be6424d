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

    private static Option<OutputFormat> Create(bool mermaid) => mermaid
        ? Of("output format: table (default), json or mermaid", ("table", OutputFormat.Table), ("json", OutputFormat.Json), ("mermaid", OutputFormat.Mermaid))
        : Of("output format: table (default) or json", ("table", OutputFormat.Table), ("json", OutputFormat.Json));

    /// <summary>
    /// An <c>--output</c>/<c>-o</c> option that takes one of <paramref name="formats"/> by name, the
    /// first being the default; any other value is refused with <c>--output "x" is not one of: a, b</c>.
    /// The one parser of every verb's output option.
    /// </summary>
    public static Option<T> Of<T>(string description, params (string Name, T Value)[] formats)
    {
        var names = string.Join(", ", formats.Select(f => f.Name));
        return new Option<T>("--output", "-o")
        {
            Description = description,
            DefaultValueFactory = _ => formats[0].Value,
            CustomParser = result =>
            {
                var value = result.Tokens.Single().Value;
                foreach (var (name, format) in formats)
                {
                    if (name == value)
                    {
                        return format;
                    }
                }

                result.AddError($"--output \"{value}\" is not one of: {names}");
                return formats[0].Value;
            },
        };
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
