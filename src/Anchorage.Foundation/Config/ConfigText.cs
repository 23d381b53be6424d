using System.Text;

namespace Anchorage.Foundation.Config;

/// <summary>Quotes configuration values for error messages: printable, bounded.</summary>
public static class ConfigText
{
    private const int MaxShown = 60;

    public static string Quote(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, MaxShown) + 5);
        builder.Append('"');
        foreach (var c in value.Length > MaxShown ? value[..MaxShown] : value)
        {
            builder.Append(c is >= ' ' and <= '~' && c != '"' ? c : '?');
        }

        if (value.Length > MaxShown)
        {
            builder.Append("...");
        }

        return builder.Append('"').ToString();
    }
}
