namespace Anchorage.Server.Config;

/// <summary>
/// <c>federation.bundleEndpoint.servingCert:</c> a certificate and its key on disk, loaded at start
/// and reloaded when the files change (a change that does not load keeps the previous pair).
/// </summary>
public sealed record ServingCertOptions
{
    /// <summary>The certificate chain (PEM: the leaf first, then intermediates), absolute path. Required.</summary>
    public required string CertFile { get; init; }

    /// <summary>The private key of the leaf (PEM: PKCS#8, SEC1 or PKCS#1), absolute path. Required.</summary>
    public required string KeyFile { get; init; }
}
