using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Policy;

/// <summary>
/// Reads a <c>CommunicationPolicy</c> YAML document, reporting every error with its line and key
/// path, e.g. <c>policy.yaml:7: spec.rules[1].from.spiffeId: "spiffe://Acme/x" is not a valid SPIFFE ID: ...</c>.
/// </summary>
/// <remarks>
/// <para>The shape (<c>apiVersion: anchorage.dev/v1alpha1</c>, <c>kind: CommunicationPolicy</c>):</para>
/// <code>
/// metadata: { name: acme }
/// spec:
///   mode: enforce                       # enforce (default) | audit: denials recorded as would-deny, not refused
///   rules:
///     - name: web-to-payments           # required, unique; letters, digits, '.', '-', '_'
///       action: allow                   # allow | deny
///       from: { spiffeId: "spiffe://acme.corp/web/*", selectors: ["unix:path:/usr/bin/web"] }
///       to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
/// </code>
/// <para>
/// Every rule must have both <c>from</c> and <c>to</c>: a side left out would silently match every
/// identity, which is the opposite of deny by default; a rule meant to cover a whole trust domain
/// says so with <c>trustDomain</c> (or <c>spiffeId: spiffe://td/*</c>). <c>spec.rules</c> must be
/// present; an empty list is valid and denies everything. Unknown keys are errors.
/// </para>
/// </remarks>
public static class PolicyDocument
{
    /// <summary>The only <c>apiVersion</c> accepted.</summary>
    public const string ApiVersion = "anchorage.dev/v1alpha1";

    /// <summary>The only <c>kind</c> accepted.</summary>
    public const string Kind = "CommunicationPolicy";

    /// <summary>The name used in messages when <see cref="Parse"/> is given no other.</summary>
    public const string DefaultSourceName = "policy.yaml";

    /// <summary>The longest policy or rule name accepted.</summary>
    public const int MaxNameLength = 128;

    /// <summary>Reads and parses the file at <paramref name="path"/>; messages name the file as given.</summary>
    public static ConfigResult<CommunicationPolicy> Load(string path) => ConfigFile.Load(path, Parse);

    /// <summary>Parses and validates <paramref name="yaml"/>; <paramref name="source"/> names it in errors (a file path).</summary>
    /// <returns>The policy, or every error found (never both); bad input is never thrown.</returns>
    public static ConfigResult<CommunicationPolicy> Parse(string yaml, string source)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(source);
        var errors = new ConfigErrorList(source);
        var root = ConfigMap.Load(yaml, errors);
        if (root is null)
        {
            return new ConfigResult<CommunicationPolicy>(errors.ToImmutable());
        }

        ReadFixed(root, "apiVersion", ApiVersion, "is not a supported apiVersion");
        ReadFixed(root, "kind", Kind, "is not a supported kind");
        var metadata = root.Section("metadata");
        var name = ReadName(metadata, metadata.Get("name"), "name");
        metadata.RejectUnknownKeys();
        var spec = root.Section("spec");
        var mode = ReadMode(spec);
        var rules = ReadRules(spec);
        spec.RejectUnknownKeys();
        root.RejectUnknownKeys();

        return errors.IsEmpty && name is not null && rules is not null && mode is { } m
            ? new ConfigResult<CommunicationPolicy>(new CommunicationPolicy(name, rules, m))
            : new ConfigResult<CommunicationPolicy>(errors.ToImmutable());
    }

    /// <summary>The prefix of <see cref="ContentVersion(ReadOnlySpan{byte})"/>: a file's policy, not a server-assigned number.</summary>
    public const string FileVersionPrefix = "file:";

    /// <summary>
    /// The version of a policy read from a local file, derived from its exact content:
    /// <c>file:</c> and the first 12 hex digits of the SHA-256 of the bytes. The agent's file
    /// policy and <c>anchorage policy check</c> name a file's policy alike.
    /// </summary>
    public static string ContentVersion(ReadOnlySpan<byte> content) =>
        FileVersionPrefix + Convert.ToHexStringLower(SHA256.HashData(content))[..12];

    /// <summary>The <see cref="ContentVersion(ReadOnlySpan{byte})"/> of UTF-8 text.</summary>
    public static string ContentVersion(string yaml)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        return ContentVersion(Encoding.UTF8.GetBytes(yaml));
    }

    private static void ReadFixed(ConfigMap map, string key, string expected, string problem)
    {
        var node = map.Get(key);
        if (node is null)
        {
            map.Errors.Add(map.PathOf(key), "required (" + expected + ")", map.Line);
            return;
        }

        var text = node.Scalar();
        if (text is not null && !string.Equals(text, expected, StringComparison.Ordinal))
        {
            node.Error($"{ConfigText.Quote(text)} {problem} (expected {expected})");
        }
    }

    private static string? ReadName(ConfigMap map, ConfigNode? node, string key)
    {
        if (node is null)
        {
            map.Required(key);
            return null;
        }

        var text = node.Scalar();
        if (text is null)
        {
            return null;
        }

        if (!IsName(text))
        {
            node.Error(string.Create(
                CultureInfo.InvariantCulture,
                $"{ConfigText.Quote(text)} is not a valid name (1 to {MaxNameLength} letters, digits, '.', '-' or '_')"));
            return null;
        }

        return text;
    }

    // spec.mode: enforce (default) or audit (shadow: denials recorded as would-deny, not refused).
    private static PolicyMode? ReadMode(ConfigMap spec)
    {
        var node = spec.Get("mode");
        switch (node?.Scalar())
        {
            case null when node is null:
                return PolicyMode.Enforce;
            case null:
                return null;
            case "enforce":
                return PolicyMode.Enforce;
            case "audit":
                return PolicyMode.Audit;
            case var text:
                node!.Error($"{ConfigText.Quote(text)} is not enforce or audit");
                return null;
        }
    }

    private static bool IsName(string text) =>
        text.Length is >= 1 and <= MaxNameLength
        && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');

    private static List<PolicyRule>? ReadRules(ConfigMap spec)
    {
        var node = spec.Get("rules");
        if (node is null)
        {
            spec.Errors.Add(spec.PathOf("rules"), "required (an empty list, rules: [], denies everything)", spec.Line);
            return null;
        }

        var items = node.List();
        if (items is null)
        {
            return null;
        }

        var rules = new List<PolicyRule>(items.Count);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var complete = true;
        foreach (var item in items)
        {
            var rule = ReadRule(item, names);
            if (rule is null)
            {
                complete = false;
            }
            else
            {
                rules.Add(rule);
            }
        }

        return complete ? rules : null;
    }

    private static PolicyRule? ReadRule(ConfigNode item, Dictionary<string, string> names)
    {
        var map = item.Map();
        if (map is null)
        {
            return null;
        }

        var nameNode = map.Get("name");
        var name = ReadName(map, nameNode, "name");
        if (name is not null)
        {
            if (string.Equals(name, PolicyDecision.DefaultRule, StringComparison.Ordinal))
            {
                nameNode!.Error($"\"{PolicyDecision.DefaultRule}\" is reserved for the deny-by-default outcome");
                name = null;
            }
            else if (!names.TryAdd(name, map.Path))
            {
                nameNode!.Error($"{ConfigText.Quote(name)} is already the name of {names[name]}");
                name = null;
            }
        }

        var action = ReadAction(map);
        var from = ReadFrom(map);
        var to = ReadTo(map);
        map.RejectUnknownKeys();
        return name is not null && action is { } a && from is not null && to is not null
            ? new PolicyRule(name, a, from, to)
            : null;
    }

    private static PolicyAction? ReadAction(ConfigMap rule)
    {
        var node = rule.Get("action");
        if (node is null)
        {
            rule.Errors.Add(rule.PathOf("action"), "required (allow or deny)", rule.Line);
            return null;
        }

        switch (node.Scalar())
        {
            case null:
                return null;
            case "allow":
                return PolicyAction.Allow;
            case "deny":
                return PolicyAction.Deny;
            case var text:
                node.Error($"{ConfigText.Quote(text)} is not allow or deny");
                return null;
        }
    }

    private static FromMatch? ReadFrom(ConfigMap rule)
    {
        var node = rule.Get("from");
        if (node is null)
        {
            rule.Errors.Add(rule.PathOf("from"), "required (a rule must name the connecting side: spiffeId or trustDomain)", rule.Line);
            return null;
        }

        var map = node.Map();
        if (map is null)
        {
            return null;
        }

        var identity = ReadIdentity(map);
        var selectors = ReadSelectors(map);
        var originOk = true;
        OriginMatch? origin = null;
        if (map.Get("origin") is { } originNode)
        {
            origin = ReadOrigin(originNode);
            originOk = origin is not null;
        }

        map.RejectUnknownKeys();
        return identity is not null && selectors is not null && originOk ? new FromMatch(identity, selectors, origin) : null;
    }

    // from.origin: sha256, path, uid; at least one (docs/policy.md).
    private static OriginMatch? ReadOrigin(ConfigNode node)
    {
        var map = node.Map();
        if (map is null)
        {
            return null;
        }

        var ok = true;
        string? sha256 = null;
        string? path = null;
        uint? uid = null;
        if (map.Get("sha256") is { } shaNode && shaNode.Scalar() is { } shaText)
        {
            if (shaText.Length == 64 && shaText.All(char.IsAsciiHexDigitLower))
            {
                sha256 = shaText;
            }
            else
            {
                shaNode.Error($"{ConfigText.Quote(shaText)} is not a SHA-256 (64 lowercase hex digits)");
                ok = false;
            }
        }

        if (map.Get("path") is { } pathNode && pathNode.Scalar() is { } pathText)
        {
            if (pathText.StartsWith('/') && !pathText.Any(char.IsControl))
            {
                path = pathText;
            }
            else
            {
                pathNode.Error($"{ConfigText.Quote(pathText)} is not an absolute executable path");
                ok = false;
            }
        }

        if (map.Get("uid") is { } uidNode && uidNode.Scalar() is { } uidText)
        {
            if (uidText.Length is >= 1 and <= 10 && uidText.All(char.IsAsciiDigit) && uint.TryParse(uidText, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                uid = id;
            }
            else
            {
                uidNode.Error($"{ConfigText.Quote(uidText)} is not a user id (a number from 0 to 4294967295)");
                ok = false;
            }
        }

        map.RejectUnknownKeys();
        if (ok && sha256 is null && path is null && uid is null)
        {
            node.Error("needs one or more of sha256, path, uid");
            return null;
        }

        return ok ? new OriginMatch(sha256, path, uid) : null;
    }

    private static ToMatch? ReadTo(ConfigMap rule)
    {
        var node = rule.Get("to");
        if (node is null)
        {
            rule.Errors.Add(rule.PathOf("to"), "required (a rule must name the accepting side: spiffeId or trustDomain)", rule.Line);
            return null;
        }

        var map = node.Map();
        if (map is null)
        {
            return null;
        }

        var identity = ReadIdentity(map);
        var portOk = true;
        int? port = null;
        if (map.Get("port") is { } portNode && portNode.Scalar() is { } portText)
        {
            if (portText.Length is >= 1 and <= 5 && portText.All(char.IsAsciiDigit)
                && int.Parse(portText, NumberStyles.None, CultureInfo.InvariantCulture) is var p and >= 1 and <= 65535)
            {
                port = p;
            }
            else
            {
                portNode.Error($"{ConfigText.Quote(portText)} is not a port (a number from 1 to 65535)");
                portOk = false;
            }
        }

        // Selectors describe a local process; the accepting side of a connection has none to check.
        if (map.Get("selectors") is { } selectorsNode)
        {
            selectorsNode.Error("selectors can only be set on from (the connecting process)");
        }

        map.RejectUnknownKeys();
        return identity is not null && portOk ? new ToMatch(identity, port) : null;
    }

    private static IdentityPattern? ReadIdentity(ConfigMap side)
    {
        var idNode = side.Get("spiffeId");
        var tdNode = side.Get("trustDomain");
        if (idNode is null && tdNode is null)
        {
            side.Errors.Add(side.Path, "needs one of spiffeId or trustDomain", side.Line);
            return null;
        }

        if (idNode is not null && tdNode is not null)
        {
            tdNode.Error("set only one of spiffeId and trustDomain");
            return null;
        }

        if (tdNode is not null)
        {
            var text = tdNode.Scalar();
            if (text is null)
            {
                return null;
            }

            if (TrustDomain.TryParse(text, out var td, out var error))
            {
                return new IdentityPattern.InTrustDomain(td);
            }

            tdNode.Error($"{ConfigText.Quote(text)} is not a valid trust domain: {error}");
            return null;
        }

        var idText = idNode!.Scalar();
        if (idText is null)
        {
            return null;
        }

        if (IdentityPattern.TryParse(idText, out var pattern, out var patternError))
        {
            return pattern;
        }

        idNode.Error($"{ConfigText.Quote(idText)} is not a valid SPIFFE ID: {patternError}");
        return null;
    }

    private static List<string>? ReadSelectors(ConfigMap from)
    {
        var node = from.Get("selectors");
        if (node is null)
        {
            return [];
        }

        var items = node.List();
        if (items is null)
        {
            return null;
        }

        var selectors = new List<string>(items.Count);
        var ok = true;
        foreach (var item in items)
        {
            var text = item.Scalar();
            if (text is null)
            {
                ok = false;
            }
            else if (!FromMatch.IsSelector(text))
            {
                item.Error($"{ConfigText.Quote(text)} is not a selector (type:value, e.g. unix:uid:1000)");
                ok = false;
            }
            else if (OriginMatch.IsOriginSelector(text))
            {
                item.Error($"{ConfigText.Quote(text)}: the verified origin is matched with from.origin (sha256, path, uid), not a selector");
                ok = false;
            }
            else if (!selectors.Contains(text, StringComparer.Ordinal))
            {
                selectors.Add(text);
            }
        }

        return ok ? selectors : null;
    }
}
