using System.Globalization;
using System.Text;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Federation;
using YamlDotNet.RepresentationModel;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Reads the YAML of <c>federation apply -f FILE</c>: one or more documents, each
/// <c>apiVersion: anchorage.dev/v1alpha1</c>, <c>kind: FederatedTrustDomain</c>,
/// <c>metadata.name</c>, <c>spec.{trustDomain, owner, bundleEndpoint.{url, profile,
/// endpointSPIFFEID, bootstrapBundle, caBundle}, maxStaleness, reviewEvery}</c>. Every problem is reported as
/// <c>FILE:LINE: key.path: what is wrong</c> before anything is sent. URL, profile and trust domain
/// are always explicit; nothing is inferred from another.
/// </summary>
internal static class FederationFile
{
    public const string ApiVersion = "anchorage.dev/v1alpha1";
    public const string Kind = "FederatedTrustDomain";

    /// <summary>Reads and checks the file at <paramref name="path"/>.</summary>
    /// <exception cref="CliException">Unreadable, not YAML, or any document invalid; one line per problem (exit 2).</exception>
    public static List<FederatedTrustDomain> Read(string path)
    {
        var text = Encoding.UTF8.GetString(CommonOptions.ReadFile(path, "federation file"));
        var errors = new List<(long Line, string Message)>();
        var documents = Parse(text, errors);
        if (errors.Count > 0)
        {
            throw new CliException(
                ExitCodes.UsageOrIo,
                string.Join('\n', errors.Select(e => string.Create(CultureInfo.InvariantCulture, $"error: {path}:{e.Line}: {e.Message}"))));
        }

        return documents;
    }

    /// <summary>Parses <paramref name="yaml"/>, adding every problem (with its line) to <paramref name="errors"/>.</summary>
    public static List<FederatedTrustDomain> Parse(string yaml, List<(long Line, string Message)> errors)
    {
        var stream = CliYaml.Load(yaml, out var syntax);
        if (stream is null)
        {
            errors.Add((syntax.Line, syntax.Reason));
            return [];
        }

        var result = new List<FederatedTrustDomain>();
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" })
            {
                continue; // an empty document (a trailing ---)
            }

            var spec = ParseDocument(document.RootNode, errors);
            if (spec is null)
            {
                continue;
            }

            if (spec.TrustDomain.Length > 0 && !seen.TryAdd(spec.TrustDomain, document.RootNode.Start.Line))
            {
                errors.Add((document.RootNode.Start.Line,
                    string.Create(CultureInfo.InvariantCulture, $"spec.trustDomain \"{spec.TrustDomain}\" is already declared at line {seen[spec.TrustDomain]}")));
            }

            result.Add(spec);
        }

        if (result.Count == 0 && errors.Count == 0)
        {
            errors.Add((1, $"holds no {Kind} document"));
        }

        return result;
    }

    // The shared validator's keys (proto JSON names) and the YAML paths a file shows for them.
    private static readonly Dictionary<string, string> YamlPaths = new(StringComparer.Ordinal)
    {
        ["trustDomain"] = "spec.trustDomain",
        ["owner"] = "spec.owner",
        ["url"] = "spec.bundleEndpoint.url",
        ["profile"] = "spec.bundleEndpoint.profile",
        ["endpointSpiffeId"] = "spec.bundleEndpoint.endpointSPIFFEID",
        ["bootstrapBundle"] = "spec.bundleEndpoint.bootstrapBundle",
        ["caBundle"] = "spec.bundleEndpoint.caBundle",
        ["maxStalenessSeconds"] = "spec.maxStaleness",
        ["reviewEverySeconds"] = "spec.reviewEvery",
    };

    /// <summary>
    /// Reads the document's shape here (keys, strings, durations, with lines) and leaves every rule on
    /// the values to <see cref="FederationRelationshipValidator"/>, the one the server applies too.
    /// </summary>
    private static FederatedTrustDomain? ParseDocument(YamlNode root, List<(long, string)> errors)
    {
        var doc = Mapping(root, "document", errors, ["apiVersion", "kind", "metadata", "spec"]);
        if (doc is null)
        {
            return null;
        }

        var firstError = errors.Count;
        var lines = new Dictionary<string, long>(StringComparer.Ordinal) { ["spec"] = root.Start.Line };
        var apiVersion = RequiredString(doc, root, "apiVersion", "apiVersion", errors);
        if (apiVersion is not null && apiVersion != ApiVersion)
        {
            errors.Add((doc["apiVersion"].Start.Line, $"apiVersion \"{apiVersion}\" is not {ApiVersion}"));
        }

        var kind = RequiredString(doc, root, "kind", "kind", errors);
        if (kind is not null && kind != Kind)
        {
            errors.Add((doc["kind"].Start.Line, $"kind \"{kind}\" is not {Kind}"));
        }

        var spec = new FederatedTrustDomain();
        if (Child(doc, root, "metadata", "metadata", errors) is { } metadataNode
            && Mapping(metadataNode, "metadata", errors, ["name"]) is { } metadata)
        {
            spec.Name = RequiredString(metadata, metadataNode, "name", "metadata.name", errors) ?? string.Empty;
        }

        if (Child(doc, root, "spec", "spec", errors) is not { } specNode
            || Mapping(specNode, "spec", errors, SpecKeys) is not { } body)
        {
            return spec;
        }

        lines["spec"] = specNode.Start.Line;
        spec.TrustDomain = Field(body, specNode, "trustDomain", "spec", lines, errors) ?? string.Empty;
        spec.Owner = Field(body, specNode, "owner", "spec", lines, errors) ?? string.Empty;
        spec.MaxStalenessSeconds = DurationSeconds(body, specNode, "maxStaleness", lines, errors);
        spec.ReviewEverySeconds = DurationSeconds(body, specNode, "reviewEvery", lines, errors);
        const string At = "spec.bundleEndpoint";
        if (Child(body, specNode, "bundleEndpoint", At, errors) is { } endpointNode
            && Mapping(endpointNode, At, errors, ["url", "profile", "endpointSPIFFEID", "bootstrapBundle", "caBundle"]) is { } endpoint)
        {
            lines[At] = endpointNode.Start.Line;
            spec.Url = Field(endpoint, endpointNode, "url", At, lines, errors) ?? string.Empty;
            spec.Profile = Field(endpoint, endpointNode, "profile", At, lines, errors) ?? string.Empty;
            spec.EndpointSpiffeId = Field(endpoint, null, "endpointSPIFFEID", At, lines, errors) ?? string.Empty;
            spec.BootstrapBundle = Field(endpoint, null, "bootstrapBundle", At, lines, errors) ?? string.Empty;
            spec.CaBundle = Field(endpoint, null, "caBundle", At, lines, errors) ?? string.Empty;
        }

        // A key whose shape is already reported (missing, not a string, under a missing parent) gets no second line.
        var reported = errors.Skip(firstError).Select(e => e.Item2).Where(m => !m.Contains("unknown key", StringComparison.Ordinal)).ToList();
        foreach (var problem in FederationRelationshipValidator.Validate(spec).Problems)
        {
            var path = YamlPaths[problem.Key];
            if (!reported.Any(m => IsUnder(m, path)))
            {
                errors.Add((LineOf(path, lines), CliApp.OneLine(path + problem.Message[problem.Key.Length..])));
            }
        }

        return spec;
    }

    private static readonly string[] SpecKeys = ["trustDomain", "owner", "bundleEndpoint", "maxStaleness", "reviewEvery"];

    // A duration field of spec, in whole seconds; 0 when absent (the validator says whether it is required) or unreadable (reported here).
    private static long DurationSeconds(YamlMappingNode body, YamlNode specNode, string key, Dictionary<string, long> lines, List<(long, string)> errors)
    {
        var required = key == "maxStaleness";
        if (Field(body, required ? specNode : null, key, "spec", lines, errors) is not { } text)
        {
            return 0;
        }

        if (Durations.TryParse(text, out var duration, out var error))
        {
            return (long)duration.TotalSeconds;
        }

        errors.Add((body[key].Start.Line, $"spec.{key} \"{text}\": {error}"));
        return 0;
    }

    // True when the reported line is about path or one of its parents ("spec.bundleEndpoint is required" covers its url).
    private static bool IsUnder(string message, string path)
    {
        var end = message.IndexOfAny([' ', ':']);
        var reportedPath = end < 0 ? message : message[..end];
        return path == reportedPath || path.StartsWith(reportedPath + ".", StringComparison.Ordinal);
    }

    private static long LineOf(string path, Dictionary<string, long> lines)
    {
        for (var at = path; at.Contains('.', StringComparison.Ordinal); at = at[..at.LastIndexOf('.')])
        {
            if (lines.TryGetValue(at, out var line))
            {
                return line;
            }
        }

        return lines["spec"];
    }

    // A string field: required when mappingNode is given, optional otherwise; its line is remembered.
    private static string? Field(
        YamlMappingNode mapping, YamlNode? mappingNode, string key, string parent, Dictionary<string, long> lines, List<(long, string)> errors)
    {
        var path = parent + "." + key;
        if (mapping.Children.TryGetValue(new YamlScalarNode(key), out var value))
        {
            lines[path] = value.Start.Line;
        }

        return mappingNode is null ? OptionalString(mapping, key, path, errors) : RequiredString(mapping, mappingNode, key, path, errors);
    }

    private static YamlMappingNode? Mapping(YamlNode node, string at, List<(long, string)> errors, string[] keys)
    {
        if (node is not YamlMappingNode mapping)
        {
            errors.Add((node.Start.Line, $"{at} must be a mapping"));
            return null;
        }

        foreach (var key in mapping.Children.Keys)
        {
            var name = key is YamlScalarNode scalar ? scalar.Value ?? string.Empty : string.Empty;
            if (!keys.Contains(name, StringComparer.Ordinal))
            {
                errors.Add((key.Start.Line, at == "document" ? $"unknown key \"{name}\"" : $"{at}: unknown key \"{name}\""));
            }
        }

        return mapping;
    }

    private static YamlNode? Child(YamlMappingNode mapping, YamlNode mappingNode, string key, string at, List<(long, string)> errors)
    {
        if (mapping.Children.TryGetValue(new YamlScalarNode(key), out var value))
        {
            return value;
        }

        errors.Add((mappingNode.Start.Line, $"{at} is required"));
        return null;
    }

    private static string? RequiredString(YamlMappingNode mapping, YamlNode mappingNode, string key, string at, List<(long, string)> errors) =>
        Child(mapping, mappingNode, key, at, errors) is { } value ? String(value, at, errors) : null;

    private static string? OptionalString(YamlMappingNode mapping, string key, string at, List<(long, string)> errors) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? String(value, at, errors) : null;

    private static string? String(YamlNode node, string at, List<(long, string)> errors)
    {
        if (node is YamlScalarNode { Value: { } text })
        {
            return text;
        }

        errors.Add((node.Start.Line, $"{at} must be a string"));
        return null;
    }
}
