using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Bundles;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Reads the YAML of <c>federation apply -f FILE</c>: one or more documents, each
/// <c>apiVersion: anchorage.dev/v1alpha1</c>, <c>kind: FederatedTrustDomain</c>,
/// <c>metadata.name</c>, <c>spec.{trustDomain, owner, bundleEndpoint.{url, profile,
/// endpointSPIFFEID, bootstrapBundle, caBundle}, maxStaleness}</c>. Every problem is reported as
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
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            var reason = CliApp.OneLine(ex.Message).TrimEnd('.');
            reason = reason.Length > 0 ? char.ToLowerInvariant(reason[0]) + reason[1..] : "not valid YAML";
            errors.Add((ex.Start.Line, reason));
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

    private static FederatedTrustDomain? ParseDocument(YamlNode root, List<(long, string)> errors)
    {
        var doc = Mapping(root, "document", errors, ["apiVersion", "kind", "metadata", "spec"]);
        if (doc is null)
        {
            return null;
        }

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
            || Mapping(specNode, "spec", errors, ["trustDomain", "owner", "bundleEndpoint", "maxStaleness"]) is not { } body)
        {
            return spec;
        }

        var td = default(Spiffe.Ids.TrustDomain);
        if (RequiredString(body, specNode, "trustDomain", "spec.trustDomain", errors) is { } tdText)
        {
            spec.TrustDomain = tdText;
            if (!Spiffe.Ids.TrustDomain.TryParse(tdText, out td, out var error))
            {
                errors.Add((body["trustDomain"].Start.Line, $"spec.trustDomain \"{tdText}\": {error}"));
            }
        }

        if (RequiredString(body, specNode, "owner", "spec.owner", errors) is { } owner)
        {
            if (string.IsNullOrWhiteSpace(owner))
            {
                errors.Add((body["owner"].Start.Line, "spec.owner is required"));
            }

            spec.Owner = owner;
        }

        if (RequiredString(body, specNode, "maxStaleness", "spec.maxStaleness", errors) is { } staleness)
        {
            if (Durations.TryParse(staleness, out var duration, out var error))
            {
                spec.MaxStalenessSeconds = (long)duration.TotalSeconds;
            }
            else
            {
                errors.Add((body["maxStaleness"].Start.Line, $"spec.maxStaleness \"{staleness}\": {error}"));
            }
        }

        if (Child(body, specNode, "bundleEndpoint", "spec.bundleEndpoint", errors) is { } endpointNode
            && Mapping(endpointNode, "spec.bundleEndpoint", errors, ["url", "profile", "endpointSPIFFEID", "bootstrapBundle", "caBundle"]) is { } endpoint)
        {
            ParseEndpoint(endpoint, endpointNode, td, spec, errors);
        }

        return spec;
    }

    private static void ParseEndpoint(
        YamlMappingNode endpoint, YamlNode endpointNode, Spiffe.Ids.TrustDomain td, FederatedTrustDomain spec, List<(long, string)> errors)
    {
        const string At = "spec.bundleEndpoint";
        if (RequiredString(endpoint, endpointNode, "url", At + ".url", errors) is { } url)
        {
            spec.Url = url;
            var line = endpoint["url"].Start.Line;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
            {
                errors.Add((line, $"{At}.url \"{url}\" is not an absolute URL"));
            }
            else if (uri.Scheme != Uri.UriSchemeHttps)
            {
                errors.Add((line, $"{At}.url \"{url}\" must use https"));
            }
            else if (uri.Host.Length == 0)
            {
                errors.Add((line, $"{At}.url \"{url}\" must have a host"));
            }
        }

        var profile = RequiredString(endpoint, endpointNode, "profile", At + ".profile", errors);
        if (profile is not null)
        {
            spec.Profile = profile;
            if (profile is not ("https_web" or "https_spiffe"))
            {
                errors.Add((endpoint["profile"].Start.Line, $"{At}.profile \"{profile}\" is not https_web or https_spiffe"));
            }
        }

        var endpointId = OptionalString(endpoint, "endpointSPIFFEID", At + ".endpointSPIFFEID", errors);
        var bootstrap = OptionalString(endpoint, "bootstrapBundle", At + ".bootstrapBundle", errors);
        var caBundle = OptionalString(endpoint, "caBundle", At + ".caBundle", errors);
        long Line(string key) => endpoint[key].Start.Line;

        if (profile == "https_spiffe")
        {
            if (endpointId is null)
            {
                errors.Add((endpointNode.Start.Line, $"{At}.endpointSPIFFEID is required for profile https_spiffe"));
            }
            else if (!Spiffe.Ids.SpiffeId.TryParse(endpointId, out var id, out var error))
            {
                errors.Add((Line("endpointSPIFFEID"), $"{At}.endpointSPIFFEID \"{endpointId}\": {error}"));
            }
            else if (!td.IsEmpty && !id.MemberOf(td))
            {
                errors.Add((Line("endpointSPIFFEID"), $"{At}.endpointSPIFFEID \"{id}\" is not in trust domain \"{td}\""));
            }

            if (caBundle is not null)
            {
                errors.Add((Line("caBundle"), $"{At}.caBundle is only for profile https_web"));
            }

            if (bootstrap is not null && !td.IsEmpty)
            {
                try
                {
                    SpiffeBundle.Load(td, Encoding.UTF8.GetBytes(bootstrap));
                }
                catch (FormatException ex)
                {
                    errors.Add((Line("bootstrapBundle"), $"{At}.bootstrapBundle: {CliApp.OneLine(ex.Message)}"));
                }
            }
        }
        else if (profile == "https_web")
        {
            if (endpointId is not null)
            {
                errors.Add((Line("endpointSPIFFEID"), $"{At}.endpointSPIFFEID is only for profile https_spiffe"));
            }

            if (bootstrap is not null)
            {
                errors.Add((Line("bootstrapBundle"), $"{At}.bootstrapBundle is only for profile https_spiffe"));
            }

            if (caBundle is not null && CaBundleProblem(caBundle) is { } problem)
            {
                errors.Add((Line("caBundle"), $"{At}.caBundle {problem}"));
            }
        }

        spec.EndpointSpiffeId = endpointId ?? string.Empty;
        spec.BootstrapBundle = bootstrap ?? string.Empty;
        spec.CaBundle = caBundle ?? string.Empty;
    }

    private static string? CaBundleProblem(string pem)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
            return certificates.Count == 0 ? "holds no PEM certificates" : null;
        }
        catch (CryptographicException)
        {
            return "holds a PEM certificate that does not parse";
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
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
