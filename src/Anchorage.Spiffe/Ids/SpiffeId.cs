using System.Diagnostics.CodeAnalysis;

namespace Anchorage.Spiffe.Ids;

/// <summary>
/// A SPIFFE ID (SPIFFE-ID §2): <c>spiffe://trust-domain/path</c>. Equality is ordinal on the
/// whole string. The default value is empty (<see cref="IsEmpty"/>).
/// </summary>
/// <remarks>
/// Rules enforced, each with its own message: scheme exactly <c>spiffe</c> (§2); a trust domain
/// of lowercase letters, digits, '.', '-', '_' of at most 255 bytes (§2.1, §2.3); no userinfo,
/// port, query or fragment (§2, §2.1); path segments of letters, digits, '.', '-', '_', none
/// empty, none '.' or '..', no trailing slash (§2.2); no percent-encoding; at most 2048 bytes (§2.3).
/// </remarks>
public readonly struct SpiffeId : IEquatable<SpiffeId>, IComparable<SpiffeId>, ISpanParsable<SpiffeId>
{
    /// <summary>SPIFFE-ID §2.3: implementations support IDs up to 2048 bytes.</summary>
    public const int MaxLength = 2048;

    internal const string Prefix = "spiffe://";

    private readonly string? _value;
    private readonly int _pathStart;

    private SpiffeId(string value, int pathStart)
    {
        _value = value;
        _pathStart = pathStart;
    }

    /// <summary>True for the default value, which names nothing.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>The trust domain named by this ID.</summary>
    public TrustDomain TrustDomain => _value is null
        ? default
        : TrustDomain.FromValidatedName(_value[Prefix.Length.._pathStart]);

    /// <summary>The path, empty or starting with '/', e.g. <c>/payments/api</c>.</summary>
    public string Path => _value is null ? string.Empty : _value[_pathStart..];

    /// <summary>Builds an ID from a trust domain and a path (empty or starting with '/').</summary>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    /// <exception cref="FormatException">The path breaks a rule of SPIFFE-ID §2.2.</exception>
    public static SpiffeId FromPath(TrustDomain trustDomain, string path)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        ArgumentNullException.ThrowIfNull(path);
        if (path.Length != 0 && path[0] != '/')
        {
            throw new FormatException($"invalid path \"{TrustDomain.Printable(path)}\": path must start with '/'");
        }

        var error = ValidatePath(path);
        if (error is not null)
        {
            throw new FormatException($"invalid path \"{TrustDomain.Printable(path)}\": {error}");
        }

        var value = Prefix + trustDomain.Name + path;
        if (value.Length > MaxLength)
        {
            throw new FormatException($"spiffe id is longer than {MaxLength} bytes");
        }

        return new SpiffeId(value, Prefix.Length + trustDomain.Name.Length);
    }

    /// <summary>Builds an ID from a trust domain and path segments, each a single segment.</summary>
    /// <exception cref="FormatException">A segment is empty, a dot segment, or holds a character outside §2.2.</exception>
    public static SpiffeId FromSegments(TrustDomain trustDomain, params ReadOnlySpan<string> segments)
    {
        var path = string.Empty;
        foreach (var segment in segments)
        {
            if (segment.Contains('/', StringComparison.Ordinal))
            {
                throw new FormatException($"invalid path segment \"{TrustDomain.Printable(segment)}\": a segment cannot contain '/'");
            }

            path += "/" + segment;
        }

        return FromPath(trustDomain, path);
    }

    /// <summary>Parses a SPIFFE ID.</summary>
    /// <exception cref="FormatException">The text is not a valid SPIFFE ID; the message names the rule.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="s"/> is null (string overloads).</exception>
    public static SpiffeId Parse(string s) => Parse(s, null);

    /// <inheritdoc cref="Parse(string)"/>
    public static SpiffeId Parse(ReadOnlySpan<char> s) => Parse(s, null);

    /// <inheritdoc cref="Parse(string)"/>
    public static SpiffeId Parse(string s, IFormatProvider? provider)
    {
        // IParsable: null is a caller bug, not malformed text.
        ArgumentNullException.ThrowIfNull(s);
        return Parse(s.AsSpan(), provider);
    }

    /// <inheritdoc cref="Parse(string)"/>
    public static SpiffeId Parse(ReadOnlySpan<char> s, IFormatProvider? provider)
    {
        if (TryParse(s, out var id, out var error))
        {
            return id;
        }

        throw new FormatException($"invalid SPIFFE ID \"{TrustDomain.Printable(s)}\": {error}");
    }

    /// <summary>Parses like <see cref="Parse(string)"/>; returns false instead of throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, out SpiffeId result) => TryParse(s.AsSpan(), out result, out _);

    /// <inheritdoc cref="TryParse(string?, out SpiffeId)"/>
    public static bool TryParse(ReadOnlySpan<char> s, out SpiffeId result) => TryParse(s, out result, out _);

    /// <inheritdoc cref="TryParse(string?, out SpiffeId)"/>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out SpiffeId result) =>
        TryParse(s.AsSpan(), out result, out _);

    /// <inheritdoc cref="TryParse(string?, out SpiffeId)"/>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out SpiffeId result) =>
        TryParse(s, out result, out _);

    /// <summary>Parses and, on failure, reports the broken rule in <paramref name="error"/>.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out SpiffeId result, [NotNullWhen(false)] out string? error)
    {
        result = default;
        error = Validate(s, out var pathStart);
        if (error is not null)
        {
            return false;
        }

        result = new SpiffeId(s.ToString(), pathStart);
        return true;
    }

    private static string? Validate(ReadOnlySpan<char> s, out int pathStart)
    {
        pathStart = 0;
        if (s.IsEmpty)
        {
            return "spiffe id is empty";
        }

        if (!s.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return "scheme must be \"spiffe\" followed by \"://\"";
        }

        // Query and fragment delimiters are reported as such wherever they appear (§2).
        var delimiter = s.IndexOfAny('?', '#');
        if (delimiter >= 0)
        {
            return s[delimiter] == '?' ? "spiffe id cannot contain a query" : "spiffe id cannot contain a fragment";
        }

        var rest = s[Prefix.Length..];
        var slash = rest.IndexOf('/');
        var host = slash < 0 ? rest : rest[..slash];
        var tdError = TrustDomain.ValidateName(host);
        if (tdError is not null)
        {
            return tdError;
        }

        if (s.Length > MaxLength)
        {
            return $"spiffe id is longer than {MaxLength} bytes";
        }

        pathStart = Prefix.Length + host.Length;
        return slash < 0 ? null : ValidatePath(rest[slash..]);
    }

    /// <summary>SPIFFE-ID §2.2 for a path that is empty or starts with '/'.</summary>
    private static string? ValidatePath(ReadOnlySpan<char> path)
    {
        if (path.IsEmpty)
        {
            return null;
        }

        var segmentStart = 1;
        for (var i = 1; i <= path.Length; i++)
        {
            if (i < path.Length && path[i] != '/')
            {
                var c = path[i];
                if (!IsPathChar(c))
                {
                    return c == '%'
                        ? "percent-encoding is not allowed"
                        : $"path contains {TrustDomain.Describe(c)}; only letters, digits, '.', '-' and '_' are allowed in a segment";
                }

                continue;
            }

            var segment = path[segmentStart..i];
            if (segment.IsEmpty)
            {
                return i == path.Length ? "path cannot have a trailing slash" : "path cannot contain empty segments";
            }

            if (segment is "." or "..")
            {
                return "path cannot contain dot segments ('.' or '..')";
            }

            segmentStart = i + 1;
        }

        return null;
    }

    private static bool IsPathChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-' or '_';

    /// <summary>True when this ID belongs to <paramref name="trustDomain"/>.</summary>
    public bool MemberOf(TrustDomain trustDomain) => !IsEmpty && TrustDomain.Equals(trustDomain);

    /// <inheritdoc/>
    public bool Equals(SpiffeId other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SpiffeId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <inheritdoc/>
    public int CompareTo(SpiffeId other) => string.CompareOrdinal(_value, other._value);

    /// <summary>The whole ID, <c>spiffe://td/path</c>; empty for the default value.</summary>
    public override string ToString() => _value ?? string.Empty;

    public static bool operator ==(SpiffeId left, SpiffeId right) => left.Equals(right);

    public static bool operator !=(SpiffeId left, SpiffeId right) => !left.Equals(right);

    public static bool operator <(SpiffeId left, SpiffeId right) => left.CompareTo(right) < 0;

    public static bool operator <=(SpiffeId left, SpiffeId right) => left.CompareTo(right) <= 0;

    public static bool operator >(SpiffeId left, SpiffeId right) => left.CompareTo(right) > 0;

    public static bool operator >=(SpiffeId left, SpiffeId right) => left.CompareTo(right) >= 0;
}
