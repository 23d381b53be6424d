namespace Anchorage.Server.DataStore;

/// <summary>The trust domain's communication policy as stored.</summary>
/// <param name="Name">The policy's <c>metadata.name</c>.</param>
/// <param name="Document">The YAML text exactly as applied.</param>
/// <param name="Version">Assigned by the store: 1 for the first policy, +1 for each apply that changed the text.</param>
/// <param name="UpdatedAt">When the text last changed.</param>
public sealed record StoredPolicy(string Name, string Document, long Version, DateTimeOffset UpdatedAt);
