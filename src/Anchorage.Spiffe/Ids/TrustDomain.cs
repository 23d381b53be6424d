using System.Diagnostics.CodeAnalysis;

namespace Anchorage.Spiffe.Ids;

/// <summary>
/// A SPIFFE trust domain name (SPIFFE-ID §2.1): the host part of a SPIFFE ID, lowercase
/// letters, digits, '.', '-' and '_', at most 255 bytes. The default value is empty.
/// </summary>
/// <remarks>
/// Uppercase letters are rejected rather than folded: SPIFFE IDs are compared byte for byte,
/// so accepting <c>ACME.corp</c> would create a second name for the same domain.
/// </remarks>
public readonly struct TrustDomain : IEquatable<TrustDomain>, IComparable<TrustDomain>, ISpanParsable<TrustDomain>
{
    /// <summary>SPIFFE-ID §2.3: the host component of a URI is at most 255 bytes.</summary>
    public const int MaxLength = 255;

    private readonly string? _name;

    private TrustDomain(string name) => _name = name;

    /// <summary>The trust domain name, e.g. <c>acme.corp</c>; empty for the default value.</summary>
    public string Name => _name ?? string.Empty;

    /// <summary>True for the default value, which names no trust domain.</summary>
    public bool IsEmpty => _name is null;

    /// <summary>The trust domain as a SPIFFE ID string with no path: <c>spiffe://acme.corp</c>.</summary>
    public string IdString => "spiffe://" + Name;

    /// <summary>The SPIFFE ID of the trust domain itself (no path).</summary>
    public SpiffeId Id => SpiffeId.FromPath(this, string.Empty);

    /// <summary>
    /// Parses a trust domain name (<c>acme.corp</c>) or a SPIFFE ID with no path
    /// (<c>spiffe://acme.corp</c>).
    /// </summary>
    /// <exception cref="FormatException">The text is not a valid trust domain; the message says why.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="s"/> is null (string overloads).</exception>
    public static TrustDomain Parse(string s) => Parse(s, null);

    /// <inheritdoc cref="Parse(string)"/>
    public static TrustDomain Parse(ReadOnlySpan<char> s) => Parse(s, null);

    /// <inheritdoc cref="Parse(string)"/>
    public static TrustDomain Parse(string s, IFormatProvider? provider)
    {
        // IParsable: null is a caller bug, not malformed text.
        ArgumentNullException.ThrowIfNull(s);
        return Parse(s.AsSpan(), provider);
    }

    /// <inheritdoc cref="Parse(string)"/>
    public static TrustDomain Parse(ReadOnlySpan<char> s, IFormatProvider? provider)
    {
        if (TryParse(s, out var td, out var error))
        {
            return td;
        }

        throw new FormatException($"invalid trust domain \"{Printable(s)}\": {error}");
    }

    /// <summary>Parses like <see cref="Parse(string)"/>; returns false instead of throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, out TrustDomain result) =>
        TryParse(s.AsSpan(), out result, out _);

    /// <inheritdoc cref="TryParse(string?, out TrustDomain)"/>
    public static bool TryParse(ReadOnlySpan<char> s, out TrustDomain result) => TryParse(s, out result, out _);

    /// <inheritdoc cref="TryParse(string?, out TrustDomain)"/>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out TrustDomain result) =>
        TryParse(s.AsSpan(), out result, out _);

    /// <inheritdoc cref="TryParse(string?, out TrustDomain)"/>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out TrustDomain result) =>
        TryParse(s, out result, out _);

    /// <summary>Parses and, on failure, reports the reason in <paramref name="error"/>.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out TrustDomain result, [NotNullWhen(false)] out string? error)
    {
        result = default;
        if (s.StartsWith(SpiffeId.Prefix, StringComparison.Ordinal))
        {
            if (!SpiffeId.TryParse(s, out var id, out error))
            {
                return false;
            }

            if (id.Path.Length != 0)
            {
                error = "a trust domain cannot have a path";
                return false;
            }

            result = id.TrustDomain;
            return true;
        }

        if (s.Contains("://", StringComparison.Ordinal))
        {
            error = "scheme must be \"spiffe\"";
            return false;
        }

        error = ValidateName(s);
        if (error is not null)
        {
            return false;
        }

        result = new TrustDomain(s.ToString());
        return true;
    }

    /// <summary>The first rule of SPIFFE-ID §2.1/§2.3 that <paramref name="name"/> breaks, or null.</summary>
    internal static string? ValidateName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty)
        {
            return "trust domain is missing";
        }

        foreach (var c in name)
        {
            if (IsTrustDomainChar(c))
            {
                continue;
            }

            return c switch
            {
                >= 'A' and <= 'Z' => "trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase",
                ':' => "trust domain cannot contain a port",
                '@' => "trust domain cannot contain userinfo",
                '%' => "percent-encoding is not allowed",
                _ => $"trust domain contains {Describe(c)}; only lowercase letters, digits, '.', '-' and '_' are allowed",
            };
        }

        if (name.Length > MaxLength)
        {
            return $"trust domain is longer than {MaxLength} bytes";
        }

        return null;
    }

    internal static TrustDomain FromValidatedName(string name) => new(name);

    internal static bool IsTrustDomainChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_';

    internal static string Describe(char c) =>
        c is >= ' ' and <= '~' ? $"'{c}'" : $"U+{(int)c:X4}";

    internal static string Printable(ReadOnlySpan<char> s)
    {
        const int max = 80;
        var cut = s.Length > max ? s[..max] : s;
        Span<char> buffer = stackalloc char[cut.Length];
        for (var i = 0; i < cut.Length; i++)
        {
            buffer[i] = cut[i] is >= ' ' and <= '~' ? cut[i] : '?';
        }

        return s.Length > max ? new string(buffer) + "..." : new string(buffer);
    }

    /// <summary>True when <paramref name="id"/> belongs to this trust domain.</summary>
    public bool Contains(SpiffeId id) => !IsEmpty && id.TrustDomain.Equals(this);

    /// <inheritdoc/>
    public bool Equals(TrustDomain other) => string.Equals(_name, other._name, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TrustDomain other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _name is null ? 0 : StringComparer.Ordinal.GetHashCode(_name);

    /// <inheritdoc/>
    public int CompareTo(TrustDomain other) => string.CompareOrdinal(Name, other.Name);

    /// <summary>The trust domain name.</summary>
    public override string ToString() => Name;

    public static bool operator ==(TrustDomain left, TrustDomain right) => left.Equals(right);

    public static bool operator !=(TrustDomain left, TrustDomain right) => !left.Equals(right);

    public static bool operator <(TrustDomain left, TrustDomain right) => left.CompareTo(right) < 0;

    public static bool operator <=(TrustDomain left, TrustDomain right) => left.CompareTo(right) <= 0;

    public static bool operator >(TrustDomain left, TrustDomain right) => left.CompareTo(right) > 0;

    public static bool operator >=(TrustDomain left, TrustDomain right) => left.CompareTo(right) >= 0;
}
