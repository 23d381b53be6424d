namespace Anchorage.AspNetCore.Authentication;

/// <summary>The default scheme names of the SPIFFE authentication handlers.</summary>
public static class SpiffeAuthenticationDefaults
{
    /// <summary>The X.509-SVID (client certificate) scheme: <c>SpiffeX509</c>.</summary>
    public const string X509Scheme = "SpiffeX509";

    /// <summary>The JWT-SVID bearer scheme: <c>JwtSvid</c>.</summary>
    public const string JwtSvidScheme = "JwtSvid";
}
