using System.Text.Json;

namespace Anchorage.Cli.Internal;

/// <summary>JSON settings for verbs whose output is not a proto message.</summary>
internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
