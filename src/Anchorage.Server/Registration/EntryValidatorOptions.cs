using System.Collections.Immutable;

namespace Anchorage.Server.Registration;

/// <summary>Limits <see cref="EntryValidator"/> applies; the defaults are stated on each property.</summary>
public sealed record EntryValidatorOptions
{
    /// <summary>24 hours: an X.509-SVID cannot usefully outlive SPIRE's default CA lifetime.</summary>
    public static readonly TimeSpan DefaultMaxX509SvidTtl = TimeSpan.FromHours(24);

    /// <summary>1 hour: a JWT-SVID is a bearer token, so it stays short (the server default is 5 minutes).</summary>
    public static readonly TimeSpan DefaultMaxJwtSvidTtl = TimeSpan.FromHours(1);

    /// <summary>The longest <see cref="RegistrationEntry.X509SvidTtl"/> allowed; default <see cref="DefaultMaxX509SvidTtl"/>.</summary>
    public TimeSpan MaxX509SvidTtl { get; init; } = DefaultMaxX509SvidTtl;

    /// <summary>The longest <see cref="RegistrationEntry.JwtSvidTtl"/> allowed; default <see cref="DefaultMaxJwtSvidTtl"/>.</summary>
    public TimeSpan MaxJwtSvidTtl { get; init; } = DefaultMaxJwtSvidTtl;

    /// <summary>The selector types accepted; default <see cref="SelectorType.BuiltIn"/>. Add types here for new attestors.</summary>
    public ImmutableArray<SelectorType> SelectorTypes { get; init; } = SelectorType.BuiltIn;
}
