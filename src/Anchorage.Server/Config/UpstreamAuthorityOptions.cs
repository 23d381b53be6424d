namespace Anchorage.Server.Config;

/// <summary><c>ca.upstream:</c> an upstream CA on disk that signs this server's intermediate authorities.</summary>
public sealed record UpstreamAuthorityOptions
{
    /// <summary>The upstream CA certificate (PEM), absolute path. Required.</summary>
    public required string CertFile { get; init; }

    /// <summary>The upstream CA private key (PEM), absolute path. Required.</summary>
    public required string KeyFile { get; init; }

    /// <summary>The upstream trust bundle (PEM roots); null: the certificate in <see cref="CertFile"/> is the root.</summary>
    public string? BundleFile { get; init; }
}
