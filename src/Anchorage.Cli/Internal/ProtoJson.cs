using Google.Protobuf;

namespace Anchorage.Cli.Internal;

/// <summary>
/// <c>--output json</c> for admin verbs: the proto3 JSON mapping (camelCase names, int64 as
/// strings, bytes as base64), with default values written so every field is always present.
/// Stable because it is defined by the protos, not by this CLI.
/// </summary>
internal static class ProtoJson
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default
        .WithFormatDefaultValues(true)
        .WithIndentation("  "));

    /// <summary>Writes <paramref name="message"/> as one JSON document and a newline.</summary>
    public static void Write(TextWriter writer, IMessage message) => writer.WriteLine(Formatter.Format(message));
}
