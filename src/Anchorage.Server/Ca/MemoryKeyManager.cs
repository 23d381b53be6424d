using System.Collections.Concurrent;
using System.Security.Cryptography;
using Anchorage.Server.Ca.Internal;

namespace Anchorage.Server.Ca;

/// <summary>
/// Keeps keys in process memory (PKCS#8 bytes; each <see cref="GetAsync"/> returns a new key object).
/// For tests and for servers that accept losing their authorities on restart (then a new CA is
/// prepared at start, as SPIRE's memory key manager).
/// </summary>
public sealed class MemoryKeyManager : IKeyManager
{
    private readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public Task<AsymmetricAlgorithm> GenerateAsync(string keyId, KeyType keyType, CancellationToken cancellationToken = default)
    {
        KeyIds.Validate(keyId, nameof(keyId));
        cancellationToken.ThrowIfCancellationRequested();
        var key = KeyTypeNames.Generate(keyType);
        _keys[keyId] = key.ExportPkcs8PrivateKey();
        return Task.FromResult(key);
    }

    /// <inheritdoc/>
    public Task<AsymmetricAlgorithm?> GetAsync(string keyId, CancellationToken cancellationToken = default)
    {
        KeyIds.Validate(keyId, nameof(keyId));
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(_keys.TryGetValue(keyId, out var pkcs8) ? KeyIds.ImportPkcs8(pkcs8) : null);
    }

    /// <inheritdoc/>
    public Task<bool> DeleteAsync(string keyId, CancellationToken cancellationToken = default)
    {
        KeyIds.Validate(keyId, nameof(keyId));
        cancellationToken.ThrowIfCancellationRequested();
        if (_keys.TryRemove(keyId, out var pkcs8))
        {
            CryptographicOperations.ZeroMemory(pkcs8);
            return Task.FromResult(true);
        }

        return Task.FromResult(false);
    }
}
