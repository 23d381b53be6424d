namespace Anchorage.Server.Config;

/// <summary>The key type of the server's signing authorities (<c>ca.keyType</c>).</summary>
public enum CaKeyType
{
    /// <summary><c>ec-p256</c>: ECDSA on NIST P-256 (the default).</summary>
    EcP256,

    /// <summary><c>ec-p384</c>: ECDSA on NIST P-384.</summary>
    EcP384,

    /// <summary><c>rsa-2048</c>: RSA with a 2048-bit modulus.</summary>
    Rsa2048,
}
