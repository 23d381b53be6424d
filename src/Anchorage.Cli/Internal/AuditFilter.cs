using System.Text.Json;

namespace Anchorage.Cli.Internal;

/// <summary>
/// One <c>--filter key=value</c> of <c>audit tail</c>: the record's field <c>key</c> (a dotted path
/// such as <c>process.pid</c> reaches into nested objects) equals <c>value</c>. Strings compare
/// exactly; numbers and booleans as written in the file; a list matches when one of its items does.
/// </summary>
internal sealed class AuditFilter
{
    private readonly string[] _path;

    private AuditFilter(string key, string value)
    {
        Key = key;
        Value = value;
        _path = key.Split('.');
    }

    public string Key { get; }

    public string Value { get; }

    /// <exception cref="CliException">The text is not <c>key=value</c> with a non-empty key.</exception>
    public static AuditFilter Parse(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || text[..equals].Split('.').Any(string.IsNullOrWhiteSpace))
        {
            throw CliException.Usage($"--filter \"{text}\" must be key=value, e.g. decision=deny or process.pid=123");
        }

        return new AuditFilter(text[..equals], text[(equals + 1)..]);
    }

    public bool Matches(JsonElement record)
    {
        var element = record;
        foreach (var name in _path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
            {
                return false;
            }
        }

        return element.ValueKind == JsonValueKind.Array
            ? element.EnumerateArray().Any(Equal)
            : Equal(element);
    }

    private bool Equal(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => string.Equals(element.GetString(), Value, StringComparison.Ordinal),
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => string.Equals(element.GetRawText(), Value, StringComparison.Ordinal),
        _ => false,
    };
}
