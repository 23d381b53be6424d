using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Anchorage.Server.Ca;

/// <summary>Configuration names of <see cref="KeyType"/> (<c>ec-p256</c>, <c>ec-p384</c>, <c>rsa-2048</c>) and key generation.</summary>
public static class KeyTypeNames
{
    /// <summary>The name of <paramref name="keyType"/>, e.g. <c>ec-p256</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined key type.</exception>
    public static string ToName(KeyType keyType) => keyType switch
    {
        KeyType.EcP256 => "ec-p256",
        KeyType.EcP384 => "ec-p384",
        KeyType.Rsa2048 => "rsa-2048",
        _ => throw new ArgumentOutOfRangeException(nameof(keyType), keyType, "unknown key type"),
    };

    /// <summary>Parses a configuration name (ordinal, lowercase).</summary>
    /// <exception cref="FormatException">The name is not <c>ec-p256</c>, <c>ec-p384</c> or <c>rsa-2048</c>.</exception>
    public static KeyType Parse(string name) =>
        TryParse(name, out var keyType)
            ? keyType
            : throw new FormatException($"key type \"{name}\" is not supported; use ec-p256, ec-p384 or rsa-2048");

    /// <summary>Parses a configuration name; false when it is not one of the supported names.</summary>
    public static bool TryParse([NotNullWhen(true)] string? name, out KeyType keyType)
    {
        switch (name)
        {
            case "ec-p256":
                keyType = KeyType.EcP256;
                return true;
            case "ec-p384":
                keyType = KeyType.EcP384;
                return true;
            case "rsa-2048":
                keyType = KeyType.Rsa2048;
                return true;
            default:
                keyType = default;
                return false;
        }
    }

    /// <summary>Generates a new private key of <paramref name="keyType"/>. The caller owns (disposes) it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined key type.</exception>
    public static AsymmetricAlgorithm Generate(KeyType keyType) => keyType switch
    {
        KeyType.EcP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        KeyType.EcP384 => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        KeyType.Rsa2048 => RSA.Create(2048),
        _ => throw new ArgumentOutOfRangeException(nameof(keyType), keyType, "unknown key type"),
    };
}
