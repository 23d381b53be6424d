using System.Security.Cryptography;
using System.Text;
using Anchorage.Foundation.Files;
using Anchorage.Server.Ca.Internal;

namespace Anchorage.Server.Ca;

/// <summary>
/// Keeps keys as PKCS#8 PEM files <c>&lt;dataDir&gt;/keys/&lt;keyId&gt;.pem</c>, mode 0600 in a 0700
/// directory. A key is written to a temporary file in the same directory, flushed to disk (fsync),
/// then renamed over the final name, so a crash or SIGKILL leaves either the old key or the new
/// one, never half a key; stale temporary files are removed when the manager is created.
/// </summary>
public sealed class DiskKeyManager : IKeyManager
{
    private const string Extension = ".pem";
    private const string TempMarker = ".tmp-";
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Uses (and creates) <c>&lt;dataDirectory&gt;/keys</c>.</summary>
    /// <exception cref="ArgumentException">The data directory is empty.</exception>
    public DiskKeyManager(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        KeyDirectory = Path.Combine(Path.GetFullPath(dataDirectory), "keys");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(KeyDirectory);
        }
        else
        {
            Directory.CreateDirectory(KeyDirectory, DirectoryMode);
            File.SetUnixFileMode(KeyDirectory, DirectoryMode);
        }

        foreach (var stale in Directory.EnumerateFiles(KeyDirectory, "*" + TempMarker + "*"))
        {
            File.Delete(stale);
        }
    }

    /// <summary>The directory holding the key files.</summary>
    public string KeyDirectory { get; }

    /// <inheritdoc/>
    public async Task<AsymmetricAlgorithm> GenerateAsync(string keyId, KeyType keyType, CancellationToken cancellationToken = default)
    {
        var path = PathOf(keyId);
        var key = KeyTypeNames.Generate(keyType);
        try
        {
            var pem = PemEncoding.Write("PRIVATE KEY", key.ExportPkcs8PrivateKey());
            var bytes = Encoding.ASCII.GetBytes(pem);
            try
            {
                await WriteAtomicallyAsync(path, bytes, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
                Array.Clear(pem);
            }

            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public async Task<AsymmetricAlgorithm?> GetAsync(string keyId, CancellationToken cancellationToken = default)
    {
        var path = PathOf(keyId);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, Encoding.ASCII, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        if (!PemEncoding.TryFind(text, out var fields) || text[fields.Label] is not "PRIVATE KEY")
        {
            throw new InvalidDataException($"key file {path} is not a PKCS#8 PEM private key");
        }

        var der = Convert.FromBase64String(text[fields.Base64Data]);
        try
        {
            return KeyIds.ImportPkcs8(der);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"key file {path} does not hold an EC or RSA private key", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    /// <inheritdoc/>
    public Task<bool> DeleteAsync(string keyId, CancellationToken cancellationToken = default)
    {
        var path = PathOf(keyId);
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(path))
        {
            return Task.FromResult(false);
        }

        File.Delete(path);
        return Task.FromResult(true);
    }

    private string PathOf(string keyId)
    {
        KeyIds.Validate(keyId, nameof(keyId));
        return Path.Combine(KeyDirectory, keyId + Extension);
    }

    // Created 0600 under a temporary name (the key is never readable by others, not even briefly), then renamed into place.
    private static Task WriteAtomicallyAsync(string path, byte[] bytes, CancellationToken cancellationToken) =>
        SafeFile.WriteAsync(path, bytes, FileMode, cancellationToken);
}
