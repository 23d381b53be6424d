using System.Globalization;
using System.Text;
using Anchorage.Protos.Common.V1;
using YamlDotNet.RepresentationModel;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Reads the YAML of <c>entry create -f FILE</c>: a list under <c>entries:</c>, each item with
/// camelCase keys (<c>spiffeId</c>, <c>parentId</c>, <c>selectors</c>, <c>x509SvidTtl</c>,
/// <c>jwtSvidTtl</c>, <c>federatesWith</c>, <c>dnsNames</c>, <c>hint</c>, <c>admin</c>,
/// <c>downstream</c>). Every problem is reported, each with its key path
/// (<c>entries[2].spiffeId</c>), before anything is sent.
/// </summary>
internal static class EntryFile
{
    private static readonly string[] Keys =
        ["spiffeId", "parentId", "selectors", "x509SvidTtl", "jwtSvidTtl", "federatesWith", "dnsNames", "hint", "admin", "downstream"];

    /// <summary>Reads and validates the file at <paramref name="path"/>.</summary>
    /// <exception cref="CliException">The file is unreadable, not YAML, or has invalid items; one line per problem (exit 2).</exception>
    public static List<Entry> Read(string path)
    {
        var text = Encoding.UTF8.GetString(CommonOptions.ReadFile(path, "entry file"));
        var errors = new List<string>();
        var entries = Parse(text, errors);
        if (errors.Count > 0)
        {
            throw new CliException(ExitCodes.UsageOrIo, string.Join('\n', errors.Select(e => $"error: {path}: {e}")));
        }

        return entries;
    }

    /// <summary>Parses <paramref name="yaml"/>, adding every problem found to <paramref name="errors"/>.</summary>
    public static List<Entry> Parse(string yaml, List<string> errors)
    {
        var stream = CliYaml.Load(yaml, out var syntax);
        if (stream is null)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"line {syntax.Line}, column {syntax.Column}: {syntax.Reason}"));
            return [];
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            errors.Add("must be a mapping with an entries: list");
            return [];
        }

        YamlSequenceNode? items = null;
        foreach (var (keyNode, value) in root.Children)
        {
            var key = Scalar(keyNode);
            if (key != "entries")
            {
                errors.Add($"unknown key \"{key}\"");
            }
            else if (value is YamlSequenceNode sequence)
            {
                items = sequence;
            }
            else
            {
                errors.Add("entries must be a list");
                return [];
            }
        }

        if (items is null || items.Children.Count == 0)
        {
            if (items is not null || errors.Count == 0)
            {
                errors.Add("entries must list at least one entry");
            }

            return [];
        }

        var entries = new List<Entry>();
        for (var i = 0; i < items.Children.Count; i++)
        {
            entries.Add(ParseEntry(items.Children[i], string.Create(CultureInfo.InvariantCulture, $"entries[{i}]"), errors));
        }

        return entries;
    }

    private static Entry ParseEntry(YamlNode node, string at, List<string> errors)
    {
        var entry = new Entry();
        if (node is not YamlMappingNode mapping)
        {
            errors.Add($"{at} must be a mapping");
            return entry;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = Scalar(keyNode) ?? string.Empty;
            var here = $"{at}.{key}";
            if (!Keys.Contains(key, StringComparer.Ordinal))
            {
                errors.Add($"{at}: unknown key \"{key}\"");
                continue;
            }

            seen.Add(key);
            switch (key)
            {
                case "spiffeId":
                    entry.SpiffeId = Id(value, here, errors);
                    break;
                case "parentId":
                    entry.ParentId = Id(value, here, errors);
                    break;
                case "selectors":
                    if (value is YamlSequenceNode { Children.Count: 0 })
                    {
                        errors.Add($"{here} must list at least one selector");
                    }

                    foreach (var (item, itemAt) in List(value, here, errors))
                    {
                        if (Selectors.TryParse(item, out var selector, out var error))
                        {
                            entry.Selectors.Add(selector);
                        }
                        else
                        {
                            errors.Add($"{itemAt} \"{item}\": {error}");
                        }
                    }

                    break;
                case "x509SvidTtl":
                    entry.X509SvidTtlSeconds = Ttl(value, here, errors);
                    break;
                case "jwtSvidTtl":
                    entry.JwtSvidTtlSeconds = Ttl(value, here, errors);
                    break;
                case "federatesWith":
                    foreach (var (item, itemAt) in List(value, here, errors))
                    {
                        if (Anchorage.Spiffe.Ids.TrustDomain.TryParse(item, out var td, out var error))
                        {
                            entry.FederatesWith.Add(td.Name);
                        }
                        else
                        {
                            errors.Add($"{itemAt} \"{item}\": {error}");
                        }
                    }

                    break;
                case "dnsNames":
                    foreach (var (item, itemAt) in List(value, here, errors))
                    {
                        if (string.IsNullOrWhiteSpace(item))
                        {
                            errors.Add($"{itemAt} is empty");
                        }
                        else
                        {
                            entry.DnsNames.Add(item);
                        }
                    }

                    break;
                case "hint":
                    entry.Hint = String(value, here, errors);
                    break;
                case "admin":
                    entry.Admin = Bool(value, here, errors);
                    break;
                default:
                    entry.Downstream = Bool(value, here, errors);
                    break;
            }
        }

        foreach (var required in (string[])["spiffeId", "parentId", "selectors"])
        {
            if (!seen.Contains(required))
            {
                errors.Add($"{at}.{required} is required");
            }
        }

        return entry;
    }

    private static string? Scalar(YamlNode node) => node is YamlScalarNode scalar ? scalar.Value : null;

    private static string String(YamlNode node, string at, List<string> errors)
    {
        if (node is YamlScalarNode { Value: { } text })
        {
            return text;
        }

        errors.Add($"{at} must be a string");
        return string.Empty;
    }

    private static string Id(YamlNode node, string at, List<string> errors)
    {
        var text = String(node, at, errors);
        if (node is YamlScalarNode && !Anchorage.Spiffe.Ids.SpiffeId.TryParse(text, out _, out var error))
        {
            errors.Add($"{at} \"{text}\": {error}");
        }

        return text;
    }

    private static long Ttl(YamlNode node, string at, List<string> errors)
    {
        var text = String(node, at, errors);
        if (node is not YamlScalarNode)
        {
            return 0;
        }

        if (Durations.TryParse(text, out var ttl, out var error))
        {
            return (long)ttl.TotalSeconds;
        }

        errors.Add($"{at} \"{text}\": {error}");
        return 0;
    }

    private static bool Bool(YamlNode node, string at, List<string> errors)
    {
        var text = node is YamlScalarNode scalar ? scalar.Value : null;
        switch (text)
        {
            case "true":
                return true;
            case "false":
                return false;
            default:
                errors.Add($"{at} must be true or false");
                return false;
        }
    }

    private static IEnumerable<(string Item, string At)> List(YamlNode node, string at, List<string> errors)
    {
        if (node is not YamlSequenceNode sequence)
        {
            errors.Add($"{at} must be a list");
            yield break;
        }

        for (var i = 0; i < sequence.Children.Count; i++)
        {
            var itemAt = string.Create(CultureInfo.InvariantCulture, $"{at}[{i}]");
            if (sequence.Children[i] is YamlScalarNode { Value: { } item })
            {
                yield return (item, itemAt);
            }
            else
            {
                errors.Add($"{itemAt} must be a string");
            }
        }
    }
}
