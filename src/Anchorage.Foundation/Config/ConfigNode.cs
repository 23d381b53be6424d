using Anchorage.Spiffe.Ids;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Anchorage.Foundation.Config;

/// <summary>
/// One value in a configuration file with its key path and line. Every accessor reports a
/// type or format error against that path and returns null, so a reader goes on and collects
/// every error in one pass.
/// </summary>
public sealed class ConfigNode
{
    public ConfigNode(YamlNode node, string path, int line, ConfigErrorList errors)
    {
        Node = node;
        Path = path;
        Line = line;
        Errors = errors;
    }

    public YamlNode Node { get; }

    public string Path { get; }

    /// <summary>The line of the key (or, for a list item, of the item).</summary>
    public int Line { get; }

    public ConfigErrorList Errors { get; }

    public void Error(string message) => Errors.Add(Path, message, Line);

    /// <summary>The text of a scalar; an error for a mapping or a list.</summary>
    public string? Scalar()
    {
        switch (Node)
        {
            case YamlScalarNode scalar:
                return scalar.Value ?? string.Empty;
            case YamlMappingNode:
                Error("must be a single value, not a mapping");
                return null;
            default:
                Error("must be a single value, not a list");
                return null;
        }
    }

    /// <summary>The value as a mapping section; an error (and null) for anything else.</summary>
    public ConfigMap? Map()
    {
        if (Node is YamlMappingNode mapping)
        {
            return new ConfigMap(mapping, Path, Line, Errors);
        }

        Error("must be a mapping of settings");
        return null;
    }

    /// <summary>The items of a list; an error (and null) for anything else.</summary>
    public IReadOnlyList<ConfigNode>? List()
    {
        if (Node is YamlSequenceNode sequence)
        {
            return [.. sequence.Children.Select((item, i) => new ConfigNode(item, $"{Path}[{i}]", LineOf(item), Errors))];
        }

        Error("must be a list");
        return null;
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/> (plain digits, at most 9).</summary>
    public int? Count(int min, int max)
    {
        var text = Scalar();
        if (text is null)
        {
            return null;
        }

        if (text.Length is >= 1 and <= 9 && text.All(char.IsAsciiDigit)
            && int.Parse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture) is var value
            && value >= min && value <= max)
        {
            return value;
        }

        Error(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ConfigText.Quote(text)} must be a number from {min} to {max}"));
        return null;
    }

    /// <summary>A boolean: <c>true</c> or <c>false</c> (YAML 1.2 core schema spellings).</summary>
    public bool? Boolean()
    {
        var text = Scalar();
        switch (text)
        {
            case null:
                return null;
            case "true" or "True" or "TRUE":
                return true;
            case "false" or "False" or "FALSE":
                return false;
            default:
                Error($"{ConfigText.Quote(text)} must be true or false");
                return null;
        }
    }

    /// <summary>A duration such as <c>90s</c>, <c>5m</c>, <c>1h30m</c> or <c>7d</c>.</summary>
    public TimeSpan? Duration()
    {
        var text = Scalar();
        if (text is null)
        {
            return null;
        }

        if (Durations.TryParse(text, out var value))
        {
            return value;
        }

        Error($"{ConfigText.Quote(text)} is not a duration ({Durations.Examples})");
        return null;
    }

    /// <summary>A trust domain name (SPIFFE-ID §2.1: lowercase, no scheme).</summary>
    public TrustDomain? TrustDomain()
    {
        var text = Scalar();
        if (text is null)
        {
            return null;
        }

        if (Spiffe.Ids.TrustDomain.TryParse(text, out var value, out var error))
        {
            return value;
        }

        Error(error);
        return null;
    }

    /// <summary>A <c>host:port</c> listen address.</summary>
    public HostPort? Endpoint()
    {
        var text = Scalar();
        if (text is null)
        {
            return null;
        }

        if (Endpoints.TryParse(text, out var value, out var error))
        {
            return value;
        }

        Error(error);
        return null;
    }

    /// <summary>An absolute file system path.</summary>
    public string? AbsolutePath()
    {
        var text = Scalar();
        if (text is null)
        {
            return null;
        }

        if (text.Length > 0 && Path_IsAbsolute(text))
        {
            return text;
        }

        Error($"{ConfigText.Quote(text)} must be an absolute path");
        return null;
    }

    /// <summary>True for YAML's null: an empty value, <c>~</c> or <c>null</c> (unquoted).</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } scalar
        && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    public static int LineOf(YamlNode node) => (int)node.Start.Line;

    private static bool Path_IsAbsolute(string text) => System.IO.Path.IsPathFullyQualified(text);
}
