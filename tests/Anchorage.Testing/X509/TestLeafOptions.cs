using System.Security.Cryptography;

namespace Anchorage.Testing.X509;

/// <summary>How a test leaf (X.509-SVID) is built; each switch introduces one defect.</summary>
public sealed record TestLeafOptions
{
    public TestKeyKind Key { get; init; } = TestKeyKind.EcP256;

    /// <summary>The path of the SPIFFE ID in the issuing CA's trust domain.</summary>
    public string Path { get; init; } = "/workload";

    /// <summary>The URI SANs, verbatim; null means the one SPIFFE ID built from <see cref="Path"/>. Empty means none.</summary>
    public IReadOnlyList<string>? UriSans { get; init; }

    /// <summary>DNS SANs (X509-SVID §2: allowed).</summary>
    public IReadOnlyList<string> DnsNames { get; init; } = [];

    public DateTimeOffset? NotBefore { get; init; }

    public DateTimeOffset? NotAfter { get; init; }

    /// <summary>basicConstraints cA=true (forbidden by X509-SVID §4.1).</summary>
    public bool IsCa { get; init; }

    /// <summary>Leaves out the basicConstraints extension (allowed: cA defaults to false).</summary>
    public bool OmitBasicConstraints { get; init; }

    /// <summary>keyUsage digitalSignature (required by X509-SVID §4.3).</summary>
    public bool DigitalSignature { get; init; } = true;

    /// <summary>keyUsage keyCertSign (forbidden on a leaf by X509-SVID §4.3).</summary>
    public bool KeyCertSign { get; init; }

    /// <summary>keyUsage cRLSign (forbidden on a leaf by X509-SVID §4.3).</summary>
    public bool CrlSign { get; init; }

    /// <summary>keyUsage keyEncipherment (allowed).</summary>
    public bool KeyEncipherment { get; init; }

    /// <summary>Leaves out the keyUsage extension (required by X509-SVID §4.3).</summary>
    public bool OmitKeyUsage { get; init; }

    /// <summary>Adds a critical extension nobody understands (OID 1.3.6.1.4.1.55555.1).</summary>
    public bool UnknownCriticalExtension { get; init; }

    /// <summary>Hands back a private key that does not belong to the certificate.</summary>
    public bool WrongKey { get; init; }

    public HashAlgorithmName? SignatureHash { get; init; }

    /// <summary>When the issuer has an RSA key, sign with RSASSA-PSS.</summary>
    public bool RsaPss { get; init; }
}
