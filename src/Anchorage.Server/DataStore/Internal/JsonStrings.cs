using System.Buffers;
using System.Text;
using System.Text.Json;
using Anchorage.Foundation.Json;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>A JSON array of strings: how list columns (selectors, DNS names, trust domains) are stored.</summary>
internal static class JsonStrings
{
    public static string Write(IEnumerable<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStringsValue(values);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <exception cref="FormatException">The text is not a JSON array of strings.</exception>
    public static List<string> Read(string json)
    {
        var list = new List<string>();
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                throw new FormatException("not a JSON array of strings");
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.String)
                {
                    throw new FormatException("not a JSON array of strings");
                }

                list.Add(reader.GetString()!);
            }

            if (reader.TokenType != JsonTokenType.EndArray || reader.Read())
            {
                throw new FormatException("not a JSON array of strings");
            }
        }
        catch (JsonException ex)
        {
            throw new FormatException("not a JSON array of strings", ex);
        }

        return list;
    }
}
