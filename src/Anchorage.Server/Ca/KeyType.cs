namespace Anchorage.Server.Ca;

/// <summary>
/// The key types an authority (CA or JWT signer) can have. Configuration names are
/// <c>ec-p256</c> (the default, as SPIRE), <c>ec-p384</c> and <c>rsa-2048</c>; see <see cref="KeyTypeNames"/>.
/// </summary>
public enum KeyType
{
    /// <summary>ECDSA on NIST P-256; signs with SHA-256. The default.</summary>
    EcP256,

    /// <summary>ECDSA on NIST P-384; signs with SHA-384.</summary>
    EcP384,

    /// <summary>RSA with a 2048-bit modulus; signs with SHA-256 and PKCS#1 v1.5 padding.</summary>
    Rsa2048,
}
