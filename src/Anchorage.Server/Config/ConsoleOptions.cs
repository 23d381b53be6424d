using Anchorage.Foundation.Config;

namespace Anchorage.Server.Config;

/// <summary>
/// <c>console:</c> the read-only web console (issue 16), on a listener of its own. Off unless
/// configured. A listen address other than loopback requires <see cref="ServingCert"/> (HTTPS).
/// </summary>
public sealed record ConsoleOptions
{
    /// <summary>The default of <see cref="SessionTtl"/>: 1 hour.</summary>
    public static readonly TimeSpan DefaultSessionTtl = TimeSpan.FromHours(1);

    /// <summary>The longest <see cref="SessionTtl"/>: 24 hours.</summary>
    public static readonly TimeSpan MaxSessionTtl = TimeSpan.FromHours(24);

    /// <summary>Where the console listens, e.g. <c>127.0.0.1:8444</c>. Required; differs from the other listeners.</summary>
    public required HostPort Listen { get; init; }

    /// <summary>
    /// The certificate and key the console serves HTTPS with. Required when <see cref="Listen"/> is not
    /// a loopback address; optional on loopback (plain HTTP without it).
    /// </summary>
    public ServingCertOptions? ServingCert { get; init; }

    /// <summary>How long a console session (its cookie) lasts after login. Default 1 h, at most 24 h.</summary>
    public TimeSpan SessionTtl { get; init; } = DefaultSessionTtl;

    /// <summary>Whether the console serves HTTPS.</summary>
    public bool UsesTls => ServingCert is not null;
}
