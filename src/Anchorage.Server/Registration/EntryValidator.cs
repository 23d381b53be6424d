using System.Globalization;
using System.Text;
using Anchorage.Foundation.Ids;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Registration.Internal;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Registration;

/// <summary>
/// Checks a registration entry against the rules of one trust domain and reports every problem,
/// each prefixed by the field at fault (<c>spiffeId</c>, <c>parentId</c>, <c>selectors[i]</c>,
/// <c>x509SvidTtl</c>, <c>jwtSvidTtl</c>, <c>federatesWith[i]</c>, <c>dnsNames[i]</c>, <c>hint</c>, <c>id</c>).
/// </summary>
/// <remarks>
/// <para>Rules: the SPIFFE ID is in the trust domain, has a path (SPIFFE-ID §2.2) and is not under
/// <see cref="AnchorageIds.ReservedPathPrefix"/>; the parent ID is in the trust domain and has a path;
/// the two differ; at least one selector, each of a known <see cref="SelectorType"/> whose value that
/// type accepts; node selectors (<c>join_token</c>) only in node-alias entries (parent = the server
/// ID), workload selectors (<c>unix</c>) only in the others; no repeated selectors, trust domains or
/// DNS names; TTLs positive and at most the configured maximum; federated trust domains other than
/// the entry's own; DNS names per RFC 1035 §2.3.1 / RFC 1123 §2.1; a hint of at most 1024 printable
/// characters; an id, when given, of 1-255 letters, digits, '.', '-' or '_'.</para>
/// <para>Unknown selector types are refused (SPIRE stores them): an entry no attestor can match is
/// almost always a typo. New attestors register their type in <see cref="EntryValidatorOptions.SelectorTypes"/>.</para>
/// </remarks>
public sealed class EntryValidator
{
    /// <summary>The longest hint accepted, in UTF-16 code units.</summary>
    public const int MaxHintLength = 1024;

    /// <summary>The longest entry id accepted.</summary>
    public const int MaxIdLength = 255;

    private readonly Dictionary<string, SelectorType> _types;
    private readonly string _knownTypes;
    private readonly SpiffeId _serverId;

    /// <summary>Creates a validator for entries of <paramref name="trustDomain"/>.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty, a maximum TTL is not positive, or two selector types share a name.</exception>
    public EntryValidator(TrustDomain trustDomain, EntryValidatorOptions? options = null)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        options ??= new EntryValidatorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MaxX509SvidTtl, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MaxJwtSvidTtl, TimeSpan.Zero, nameof(options));
        TrustDomain = trustDomain;
        Options = options;
        _serverId = AnchorageIds.ServerId(trustDomain);
        _types = new Dictionary<string, SelectorType>(StringComparer.Ordinal);
        foreach (var type in options.SelectorTypes.IsDefault ? [] : options.SelectorTypes)
        {
            if (!_types.TryAdd(type.Name, type))
            {
                throw new ArgumentException($"selector type \"{type.Name}\" is listed twice", nameof(options));
            }
        }

        _knownTypes = string.Join(", ", _types.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>The trust domain entries must belong to.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The limits applied.</summary>
    public EntryValidatorOptions Options { get; }

    /// <summary>Every problem of <paramref name="entry"/>, in field order; empty when it is valid.</summary>
    /// <remarks>An empty <see cref="RegistrationEntry.Id"/> is valid here: it means "assign one".</remarks>
    public IReadOnlyList<string> Validate(RegistrationEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var problems = new List<string>();
        ValidateId(entry.Id, problems);
        ValidateSpiffeId(entry.SpiffeId, problems);
        ValidateParentId(entry.ParentId, problems);
        if (!entry.SpiffeId.IsEmpty && entry.SpiffeId == entry.ParentId)
        {
            problems.Add("spiffeId: must differ from parentId");
        }

        ValidateSelectors(entry, problems);
        ValidateTtl("x509SvidTtl", entry.X509SvidTtl, Options.MaxX509SvidTtl, problems);
        ValidateTtl("jwtSvidTtl", entry.JwtSvidTtl, Options.MaxJwtSvidTtl, problems);
        ValidateFederatesWith(entry, problems);
        ValidateDnsNames(entry, problems);
        ValidateHint(entry.Hint, problems);
        return problems;
    }

    /// <summary>Throws when <paramref name="entry"/> has any problem.</summary>
    /// <exception cref="EntryValidationException">The entry is invalid; it lists every problem.</exception>
    public void ThrowIfInvalid(RegistrationEntry entry)
    {
        var problems = Validate(entry);
        if (problems.Count > 0)
        {
            throw new EntryValidationException(problems);
        }
    }

    /// <summary>Problems of one selector as a <paramref name="kind"/> selector (no field prefix); null when valid.</summary>
    internal string? ValidateSelector(Selector selector, SelectorKind kind)
    {
        var text = selector.ToString();
        if (!Selector.TryParse(text, out var parsed, out _))
        {
            return text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
                ? "must not contain whitespace or control characters"
                : "must be type:value, e.g. unix:uid:1000";
        }

        if (parsed != selector)
        {
            return "selector type must not contain ':'";
        }

        if (!_types.TryGetValue(selector.Type, out var type))
        {
            return $"unknown selector type \"{selector.Type}\"; known types: {_knownTypes}";
        }

        if (type.Kind != kind)
        {
            return type.Kind == SelectorKind.Node
                ? $"{type.Name} is a node selector; only node-alias entries (parent {_serverId}) take it"
                : $"{type.Name} is a workload selector; node-alias entries (parent {_serverId}) take node selectors";
        }

        return type.ValidateValue(selector.Value);
    }

    private static void ValidateId(string? id, List<string> problems)
    {
        if (string.IsNullOrEmpty(id))
        {
            return;
        }

        if (id.Length > MaxIdLength || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            problems.Add($"id: \"{Printable(id)}\": must be 1-{MaxIdLength} letters, digits, '.', '-' or '_'");
        }
    }

    private void ValidateSpiffeId(SpiffeId id, List<string> problems)
    {
        if (id.IsEmpty)
        {
            problems.Add("spiffeId: is required");
        }
        else if (!id.MemberOf(TrustDomain))
        {
            problems.Add($"spiffeId: \"{id}\": must be in trust domain \"{TrustDomain}\"");
        }
        else if (id.Path.Length == 0)
        {
            problems.Add($"spiffeId: \"{id}\": must have a path");
        }
        else if (AnchorageIds.IsReserved(id))
        {
            problems.Add($"spiffeId: \"{id}\": paths under {AnchorageIds.ReservedPathPrefix} are reserved for the server and its agents");
        }
    }

    private void ValidateParentId(SpiffeId id, List<string> problems)
    {
        if (id.IsEmpty)
        {
            problems.Add("parentId: is required");
        }
        else if (!id.MemberOf(TrustDomain))
        {
            problems.Add($"parentId: \"{id}\": must be in trust domain \"{TrustDomain}\"");
        }
        else if (id.Path.Length == 0)
        {
            problems.Add($"parentId: \"{id}\": must have a path");
        }
    }

    private void ValidateSelectors(RegistrationEntry entry, List<string> problems)
    {
        if (entry.Selectors.IsDefaultOrEmpty)
        {
            problems.Add("selectors: at least one selector is required");
            return;
        }

        var kind = entry.ParentId == _serverId ? SelectorKind.Node : SelectorKind.Workload;
        var seen = new Dictionary<Selector, int>();
        for (var i = 0; i < entry.Selectors.Length; i++)
        {
            var selector = entry.Selectors[i];
            var at = string.Create(CultureInfo.InvariantCulture, $"selectors[{i}]: \"{Printable(selector.ToString())}\": ");
            if (seen.TryGetValue(selector, out var first))
            {
                problems.Add(at + string.Create(CultureInfo.InvariantCulture, $"duplicate of selectors[{first}]"));
                continue;
            }

            seen.Add(selector, i);
            if (ValidateSelector(selector, kind) is { } error)
            {
                problems.Add(at + error);
            }
        }
    }

    private static void ValidateTtl(string field, TimeSpan? ttl, TimeSpan max, List<string> problems)
    {
        if (ttl is not { } value)
        {
            return;
        }

        if (value <= TimeSpan.Zero)
        {
            problems.Add($"{field}: must be positive");
        }
        else if (value > max)
        {
            problems.Add($"{field}: {Seconds(value)} is more than the maximum {Seconds(max)}");
        }
    }

    private void ValidateFederatesWith(RegistrationEntry entry, List<string> problems)
    {
        if (entry.FederatesWith.IsDefaultOrEmpty)
        {
            return;
        }

        var seen = new Dictionary<TrustDomain, int>();
        for (var i = 0; i < entry.FederatesWith.Length; i++)
        {
            var td = entry.FederatesWith[i];
            var at = string.Create(CultureInfo.InvariantCulture, $"federatesWith[{i}]: ");
            if (td.IsEmpty)
            {
                problems.Add(at + "is empty");
            }
            else if (td == TrustDomain)
            {
                problems.Add(at + $"\"{td}\": is the entry's own trust domain");
            }
            else if (seen.TryGetValue(td, out var first))
            {
                problems.Add(at + string.Create(CultureInfo.InvariantCulture, $"\"{td}\": duplicate of federatesWith[{first}]"));
            }
            else
            {
                seen.Add(td, i);
            }
        }
    }

    private static void ValidateDnsNames(RegistrationEntry entry, List<string> problems)
    {
        if (entry.DnsNames.IsDefaultOrEmpty)
        {
            return;
        }

        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < entry.DnsNames.Length; i++)
        {
            var name = entry.DnsNames[i] ?? string.Empty;
            var at = string.Create(CultureInfo.InvariantCulture, $"dnsNames[{i}]: ");
            if (name.Length == 0)
            {
                problems.Add(at + "is empty");
            }
            else if (DnsNameRules.Validate(name) is { } error)
            {
                problems.Add(at + $"\"{Printable(name)}\": " + error);
            }
            else if (seen.TryGetValue(name, out var first))
            {
                problems.Add(at + string.Create(CultureInfo.InvariantCulture, $"\"{name}\": duplicate of dnsNames[{first}]"));
            }
            else
            {
                seen.Add(name, i);
            }
        }
    }

    private static void ValidateHint(string? hint, List<string> problems)
    {
        if (hint is null)
        {
            return;
        }

        if (hint.Length > MaxHintLength)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"hint: is longer than {MaxHintLength} characters"));
        }

        if (!IsPrintable(hint))
        {
            problems.Add("hint: must be printable text (no control, format, private-use or unassigned characters)");
        }
    }

    // Letters, marks, numbers, punctuation, symbols and spaces; not controls, bidi/format characters
    // (which can make a hint read differently from what it is), private use, unassigned or broken surrogates.
    private static bool IsPrintable(string text)
    {
        var span = text.AsSpan();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(span, out var rune, out var used) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }

            switch (Rune.GetUnicodeCategory(rune))
            {
                case UnicodeCategory.Control:
                case UnicodeCategory.Format:
                case UnicodeCategory.PrivateUse:
                case UnicodeCategory.OtherNotAssigned:
                case UnicodeCategory.Surrogate:
                case UnicodeCategory.LineSeparator:
                case UnicodeCategory.ParagraphSeparator:
                    return false;
            }

            span = span[used..];
        }

        return true;
    }

    private static string Seconds(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerSecond == 0
            ? ((long)value.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";

    private static string Printable(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, 80) + 3);
        foreach (var c in text.Length > 80 ? text.AsSpan(0, 80) : text)
        {
            sb.Append(char.IsControl(c) ? '?' : c);
        }

        return text.Length > 80 ? sb.Append("...").ToString() : sb.ToString();
    }
}
