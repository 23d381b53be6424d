namespace Anchorage.Server.Registration.Internal;

/// <summary>
/// DNS names for X.509-SVID SANs: RFC 1035 §2.3.1 labels (letters, digits, hyphens; 1-63
/// characters; no leading or trailing hyphen) with RFC 1123 §2.1's relaxation that a label may start
/// with a digit; at most 253 characters; an optional leading <c>*.</c> wildcard over at least two labels.
/// </summary>
internal static class DnsNameRules
{
    private const int MaxNameLength = 253;
    private const int MaxLabelLength = 63;

    public static string? Validate(string name)
    {
        if (name.Length == 0)
        {
            return "is empty";
        }

        if (name.Length > MaxNameLength)
        {
            return $"is longer than {MaxNameLength} characters";
        }

        // A dotted quad belongs in an IP SAN; as a DNS SAN no verifier would match it.
        if (name.Split('.') is { Length: 4 } quad && quad.All(p => p.Length > 0 && p.All(char.IsAsciiDigit)))
        {
            return "is an IP address, not a DNS name";
        }

        var rest = name;
        var wildcard = name.StartsWith("*.", StringComparison.Ordinal);
        if (wildcard)
        {
            rest = name[2..];
        }

        if (rest.Contains('*', StringComparison.Ordinal))
        {
            return "'*' is allowed only as the whole leftmost label (\"*.\")";
        }

        var labels = rest.Split('.');
        if (wildcard && labels.Length < 2)
        {
            return "a wildcard must cover a name of at least two labels, e.g. *.example.org";
        }

        foreach (var label in labels)
        {
            if (!IsLabel(label))
            {
                return $"label \"{label}\" must be 1-{MaxLabelLength} letters, digits or hyphens, not starting or ending with a hyphen";
            }
        }

        return null;
    }

    private static bool IsLabel(string label)
    {
        if (label.Length is 0 or > MaxLabelLength || label[0] == '-' || label[^1] == '-')
        {
            return false;
        }

        foreach (var c in label)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }
}
