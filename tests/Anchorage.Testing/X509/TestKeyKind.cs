namespace Anchorage.Testing.X509;

/// <summary>The key a test certificate gets.</summary>
public enum TestKeyKind
{
    EcP256,
    EcP384,
    EcP521,
    Rsa2048,
}
