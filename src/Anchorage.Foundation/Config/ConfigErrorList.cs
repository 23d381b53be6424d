using System.Collections.Immutable;

namespace Anchorage.Foundation.Config;

/// <summary>Collects every error of one file; reported sorted by line, errors without a line last.</summary>
public sealed class ConfigErrorList(string source)
{
    private readonly List<ConfigError> _errors = [];

    public string Source { get; } = source;

    public bool IsEmpty => _errors.Count == 0;

    public void Add(string path, string message, int? line, int? column = null) =>
        _errors.Add(new ConfigError(Source, line, column, path, message));

    /// <summary>Stable sort: same-line errors keep the order they were found in.</summary>
    public ImmutableArray<ConfigError> ToImmutable() =>
        [.. _errors.Select((e, i) => (e, i)).OrderBy(p => p.e.Line ?? int.MaxValue).ThenBy(p => p.i).Select(p => p.e)];
}
