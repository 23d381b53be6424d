using System.Security.Cryptography;

namespace Anchorage.Testing.X509;

/// <summary>How a test CA certificate is built; each switch introduces one defect.</summary>
public sealed record TestCaOptions
{
    public TestKeyKind Key { get; init; } = TestKeyKind.EcP256;

    /// <summary>The subject DN; by default a unique name.</summary>
    public string? Subject { get; init; }

    public DateTimeOffset? NotBefore { get; init; }

    public DateTimeOffset? NotAfter { get; init; }

    /// <summary>basicConstraints cA; false makes a "CA" that is not one.</summary>
    public bool IsCa { get; init; } = true;

    /// <summary>keyUsage keyCertSign.</summary>
    public bool KeyCertSign { get; init; } = true;

    /// <summary>Leaves out the basicConstraints extension.</summary>
    public bool OmitBasicConstraints { get; init; }

    /// <summary>Leaves out the keyUsage extension.</summary>
    public bool OmitKeyUsage { get; init; }

    /// <summary>basicConstraints pathLenConstraint.</summary>
    public int? PathLength { get; init; }

    /// <summary>Adds a critical extension nobody understands (OID 1.3.6.1.4.1.55555.1).</summary>
    public bool UnknownCriticalExtension { get; init; }

    /// <summary>Hash of the signature this CA's issuer makes over it; default follows the issuer's key size.</summary>
    public HashAlgorithmName? SignatureHash { get; init; }

    /// <summary>When this CA's issuer has an RSA key, sign with RSASSA-PSS instead of PKCS#1 v1.5.</summary>
    public bool RsaPss { get; init; }

    /// <summary>A URI SAN for the CA (X509-SVID §3.2: a signing certificate's ID has no path).</summary>
    public string? SpiffeId { get; init; }
}
