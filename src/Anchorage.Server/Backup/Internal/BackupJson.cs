using System.Text.Json.Serialization;

namespace Anchorage.Server.Backup.Internal;

/// <summary>Source-generated (reflection-free, trim-safe) JSON for <see cref="BackupManifest"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BackupManifest))]
internal sealed partial class BackupJson : JsonSerializerContext;
