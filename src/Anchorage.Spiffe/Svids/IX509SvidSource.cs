namespace Anchorage.Spiffe.Svids;

/// <summary>
/// Supplies the current X.509-SVID of a workload. Implementations may rotate what they return
/// (the Workload API client, the agent's cache); callers ask again for every handshake.
/// </summary>
public interface IX509SvidSource
{
    /// <summary>Returns the current X.509-SVID.</summary>
    X509Svid GetX509Svid();
}
