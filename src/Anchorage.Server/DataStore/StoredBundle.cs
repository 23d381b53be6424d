using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.DataStore;

/// <summary>A bundle as stored, with the time it was last written.</summary>
public sealed record StoredBundle(SpiffeBundle Bundle, DateTimeOffset UpdatedAt);
