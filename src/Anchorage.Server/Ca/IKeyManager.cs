using System.Security.Cryptography;

namespace Anchorage.Server.Ca;

/// <summary>
/// Holds the private keys of this server's authorities, by key id (see <see cref="AuthorityKeyIds"/>).
/// Key ids are 1 to 128 characters of ASCII letters, digits, <c>.</c>, <c>_</c> and <c>-</c>, not
/// starting with <c>.</c>. Every returned key is a new object the caller owns and disposes.
/// </summary>
public interface IKeyManager
{
    /// <summary>Generates a key of <paramref name="keyType"/> under <paramref name="keyId"/>, replacing any key with that id.</summary>
    /// <exception cref="ArgumentException">The key id is not valid.</exception>
    Task<AsymmetricAlgorithm> GenerateAsync(string keyId, KeyType keyType, CancellationToken cancellationToken = default);

    /// <summary>The key stored under <paramref name="keyId"/>, or null when there is none.</summary>
    /// <exception cref="ArgumentException">The key id is not valid.</exception>
    Task<AsymmetricAlgorithm?> GetAsync(string keyId, CancellationToken cancellationToken = default);

    /// <summary>Deletes the key under <paramref name="keyId"/>; false when there was none.</summary>
    /// <exception cref="ArgumentException">The key id is not valid.</exception>
    Task<bool> DeleteAsync(string keyId, CancellationToken cancellationToken = default);
}
