using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Anchorage.Foundation.Config;

/// <summary>
/// A mapping section of a configuration file. Readers ask for each key they know with
/// <see cref="Get"/>; <see cref="RejectUnknownKeys"/> then reports every other key. A section
/// that is absent reads as empty, so defaults apply and "required" errors name the section.
/// </summary>
public sealed class ConfigMap
{
    private readonly YamlMappingNode? _node;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public ConfigMap(YamlMappingNode? node, string path, int? line, ConfigErrorList errors)
    {
        _node = node;
        Path = path;
        Line = line;
        Errors = errors;
    }

    /// <summary>The key path of this section; empty for the root.</summary>
    public string Path { get; }

    /// <summary>The line of the key that opened this section; null for the root or an absent section.</summary>
    public int? Line { get; }

    public ConfigErrorList Errors { get; }

    /// <summary>
    /// Parses one YAML document whose root is a mapping (an empty file is an empty mapping).
    /// A syntax error is reported as <c>source:line:column: message</c> and yields null.
    /// </summary>
    public static ConfigMap? Load(string text, ConfigErrorList errors)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            errors.Add(string.Empty, SyntaxMessage(e), (int)e.Start.Line, (int)e.Start.Column);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these (no position) on some malformed input: plain scalars in flow
            // mappings, a global tag that is not a URI, a NUL key (found by fuzz/run policy,
            // agent-config, server-config). Still a syntax error of the file, not a crash.
            errors.Add(string.Empty, "invalid YAML", null);
            return null;
        }

        if (stream.Documents.Count == 0 || ConfigNode.IsNull(stream.Documents[0].RootNode))
        {
            return stream.Documents.Count > 1 ? MoreThanOne(stream, errors) : new ConfigMap(null, string.Empty, null, errors);
        }

        if (stream.Documents.Count > 1)
        {
            return MoreThanOne(stream, errors);
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            var node = stream.Documents[0].RootNode;
            errors.Add(string.Empty, "the file must be a mapping of settings (key: value)", (int)node.Start.Line, (int)node.Start.Column);
            return null;
        }

        return new ConfigMap(root, string.Empty, null, errors);
    }

    public string PathOf(string key) => Path.Length == 0 ? key : Path + "." + key;

    /// <summary>The value of <paramref name="key"/>; null when absent or YAML null.</summary>
    public ConfigNode? Get(string key)
    {
        _known.Add(key);
        if (_node is null)
        {
            return null;
        }

        foreach (var (k, v) in _node.Children)
        {
            if (k is YamlScalarNode { Value: var name } && string.Equals(name, key, StringComparison.Ordinal))
            {
                return ConfigNode.IsNull(v) ? null : new ConfigNode(v, PathOf(key), ConfigNode.LineOf(k), Errors);
            }
        }

        return null;
    }

    /// <summary>A nested section; absent or null reads as an empty section, a non-mapping is an error.</summary>
    public ConfigMap Section(string key)
    {
        var node = Get(key);
        return node?.Map() ?? new ConfigMap(null, PathOf(key), node?.Line ?? Line, Errors);
    }

    /// <summary>The value of <paramref name="key"/>; null, with <c>path.key: required</c> reported, when absent or YAML null.</summary>
    public ConfigNode? GetRequired(string key)
    {
        var node = Get(key);
        if (node is null)
        {
            Required(key);
        }

        return node;
    }

    /// <summary>True when the key is present with a non-null value.</summary>
    public bool Has(string key) => Get(key) is not null;

    /// <summary>Reports <c>path.key: required</c> at the line of this section.</summary>
    public void Required(string key) => Errors.Add(PathOf(key), "required", Line);

    /// <summary>Reports every key not asked for with <see cref="Get"/>, suggesting a known key that differs only in case or separators.</summary>
    public void RejectUnknownKeys()
    {
        if (_node is null)
        {
            return;
        }

        foreach (var key in _node.Children.Keys)
        {
            if (key is not YamlScalarNode { Value: var name } || name is null)
            {
                Errors.Add(Path.Length == 0 ? "(key)" : Path, "setting names must be plain text", ConfigNode.LineOf(key));
                continue;
            }

            if (_known.Contains(name))
            {
                continue;
            }

            var suggestion = _known.FirstOrDefault(k => string.Equals(Normalize(k), Normalize(name), StringComparison.Ordinal));
            Errors.Add(
                PathOf(name),
                suggestion is null ? "unknown setting" : $"unknown setting; did you mean {suggestion}?",
                ConfigNode.LineOf(key));
        }
    }

    private static ConfigMap? MoreThanOne(YamlStream stream, ConfigErrorList errors)
    {
        var second = stream.Documents[1].RootNode;
        errors.Add(string.Empty, "expected one YAML document, found more", (int)second.Start.Line, (int)second.Start.Column);
        return null;
    }

    private static string Normalize(string key) =>
        string.Concat(key.Where(c => c is not ('_' or '-'))).ToLowerInvariant();

    // YamlDotNet prefixes its message with "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; the location is ours to print.
    private static string SyntaxMessage(YamlException e)
    {
        var message = e.Message;
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0)
        {
            message = message[(marker + 3)..];
        }

        message = message.Trim().TrimEnd('.');
        return message.Length == 0 ? "invalid YAML" : char.ToLower(message[0], CultureInfo.InvariantCulture) + message[1..];
    }
}
