using System.Globalization;

namespace Anchorage.Foundation.Config;

/// <summary>
/// One problem in a configuration file: where it is (file, line, key path) and what is wrong.
/// <see cref="ToString"/> gives the line an operator reads, e.g.
/// <c>server.yaml:12: ca.caTtl: "abc" is not a duration (e.g. 90s, 5m, 24h)</c>.
/// </summary>
/// <param name="Source">The file name or path as the caller gave it, e.g. <c>server.yaml</c>.</param>
/// <param name="Line">1-based line of the offending key or value; null when nothing in the file marks it (a missing key).</param>
/// <param name="Column">1-based column; set only for YAML syntax errors.</param>
/// <param name="Path">The key path, e.g. <c>ca.upstream.certFile</c> or <c>adminUids[1]</c>; empty for YAML syntax errors.</param>
/// <param name="Message">What is wrong, one short lowercase line. Never contains a secret from the file.</param>
public sealed record ConfigError(string Source, int? Line, int? Column, string Path, string Message)
{
    /// <summary><c>source:line: path: message</c>, <c>source: path: message</c> or, for syntax errors, <c>source:line:column: message</c>.</summary>
    public override string ToString()
    {
        var where = Line is { } line
            ? Column is { } column
                ? string.Create(CultureInfo.InvariantCulture, $"{Source}:{line}:{column}")
                : string.Create(CultureInfo.InvariantCulture, $"{Source}:{line}")
            : Source;
        return Path.Length == 0 ? $"{where}: {Message}" : $"{where}: {Path}: {Message}";
    }
}
