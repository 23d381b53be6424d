using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Federation;

/// <summary>
/// Observed use of a federated trust domain (issue 15 item 3): what one agent reported, per
/// direction and listener, of the connections its gate decided and the JWT-SVIDs its Workload API validated
/// with that trust domain, summed by the server over every report.
/// </summary>
/// <param name="TrustDomain">The federated (peer) trust domain.</param>
/// <param name="AgentId">The reporting agent's SPIFFE ID.</param>
/// <param name="Direction"><see cref="Outbound"/> (our side opened) or <see cref="Inbound"/> (the peer opened, or presented a token).</param>
/// <param name="Allowed">Connections allowed (including <c>would-deny</c> ones a shadow policy let through) and tokens validated.</param>
/// <param name="Denied">Connections refused and tokens rejected.</param>
/// <param name="LastAllowed">The latest allowed one; null when none.</param>
/// <param name="LastDenied">The latest refused one; null when none.</param>
/// <param name="ReportedAt">When the server last stored a report for this row.</param>
public sealed record FederationUsage(
    TrustDomain TrustDomain,
    string AgentId,
    string Direction,
    long Allowed,
    long Denied,
    DateTimeOffset? LastAllowed,
    DateTimeOffset? LastDenied,
    DateTimeOffset ReportedAt)
{
    /// <summary>The gate listener where the connections were finally permitted or refused; <c>workload-api</c> for validated JWT-SVIDs; empty when not reported.</summary>
    public string Listener { get; init; } = string.Empty;

    /// <summary>The longest listener name stored.</summary>
    public const int MaxListenerLength = 128;

    /// <summary>Our side opened the connection.</summary>
    public const string Outbound = "outbound";

    /// <summary>The peer opened the connection, or presented a JWT-SVID to one of our workloads.</summary>
    public const string Inbound = "inbound";

    /// <summary>True for <see cref="Outbound"/> and <see cref="Inbound"/>.</summary>
    public static bool IsDirection(string? direction) => direction is Outbound or Inbound;
}
