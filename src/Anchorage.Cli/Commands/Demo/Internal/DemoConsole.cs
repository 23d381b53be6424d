using System.Globalization;
using Spectre.Console;

namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>
/// The demo's progress: one header line per step, the operator commands it runs (<c>$ anchorage ...</c>),
/// what it saw, and <c>ok</c> or <c>FAIL</c> with the step's time. Plain lines, coloured only on a
/// terminal, so a CI log reads the same as a terminal.
/// </summary>
internal sealed class DemoConsole
{
    private readonly IAnsiConsole _console;
    private readonly TextWriter _writer;

    /// <param name="writer">Where the lines go.</param>
    /// <param name="plain">Never colour (a test's captured output); otherwise colour on a terminal unless NO_COLOR is set.</param>
    public DemoConsole(TextWriter writer, bool plain = false)
    {
        _writer = writer;
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain || Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 } ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });

        // Never wrapped: a CI log (no terminal, default width 80) keeps one line per message.
        _console.Profile.Width = 4096;
    }

    public void Title(string text) => Markup($"[bold]{Escape(text)}[/]");

    public void Step(int index, int count, string title) =>
        Markup(string.Create(CultureInfo.InvariantCulture, $"\n[bold blue][[{index}/{count}]][/] [bold]{Escape(title)}[/]"));

    public void Command(string command, string? note = null) =>
        Markup($"  [grey]$[/] {Escape(command)}" + (note is null ? string.Empty : $"   [grey]{Escape(note)}[/]"));

    public void Info(string text) => Markup("  " + Escape(text));

    public void Block(string text)
    {
        foreach (var line in text.TrimEnd().Split('\n'))
        {
            Line("    " + line.TrimEnd('\r'));
        }
    }

    public void Ok(string detail, TimeSpan took) =>
        Markup(string.Create(CultureInfo.InvariantCulture, $"  [green]ok[/]   {Escape(detail)} [grey]({took.TotalSeconds:0.0} s)[/]"));

    public void Fail(string detail, TimeSpan took) =>
        Markup(string.Create(CultureInfo.InvariantCulture, $"  [red bold]FAIL[/] {Escape(detail)} [grey]({took.TotalSeconds:0.0} s)[/]"));

    public void Done(string text, bool success) => Markup(success ? $"\n[green bold]{Escape(text)}[/]" : $"\n[red bold]{Escape(text)}[/]");

    private void Markup(string markup)
    {
        _console.MarkupLine(markup);
        _writer.Flush();
    }

    private void Line(string text)
    {
        _console.WriteLine(text);
        _writer.Flush();
    }

    private static string Escape(string text) => Spectre.Console.Markup.Escape(text);
}
