using System.Security.Cryptography;
using Anchorage.Server.Ca;
using Anchorage.Testing;

namespace Anchorage.Server.Tests.Ca;

public class KeyManagerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        _dir.Dispose();
        GC.SuppressFinalize(this);
    }

    public static TheoryData<string> Managers => new() { "disk", "memory" };

    private IKeyManager Create(string kind) => kind == "disk" ? new DiskKeyManager(_dir.Path) : new MemoryKeyManager();

    [Theory]
    [MemberData(nameof(Managers))]
    public async Task GenerateGetDelete_EveryKeyType_RoundTrips(string kind)
    {
        var keys = Create(kind);
        foreach (var type in new[] { KeyType.EcP256, KeyType.EcP384, KeyType.Rsa2048 })
        {
            var id = "x509-" + KeyTypeNames.ToName(type);
            using var generated = await keys.GenerateAsync(id, type);
            using var loaded = await keys.GetAsync(id);

            Assert.NotNull(loaded);
            Assert.Equal(generated.ExportSubjectPublicKeyInfo(), loaded.ExportSubjectPublicKeyInfo());
            Assert.Equal(generated.GetType().BaseType, loaded.GetType().BaseType);
            Assert.True(await keys.DeleteAsync(id));
            Assert.Null(await keys.GetAsync(id));
            Assert.False(await keys.DeleteAsync(id));
        }
    }

    [Theory]
    [MemberData(nameof(Managers))]
    public async Task GenerateAsync_SameIdTwice_ReplacesTheKey(string kind)
    {
        var keys = Create(kind);
        using var first = await keys.GenerateAsync("jwt-k", KeyType.EcP256);
        using var second = await keys.GenerateAsync("jwt-k", KeyType.EcP256);
        using var loaded = await keys.GetAsync("jwt-k");

        Assert.Equal(second.ExportSubjectPublicKeyInfo(), loaded!.ExportSubjectPublicKeyInfo());
        Assert.NotEqual(first.ExportSubjectPublicKeyInfo(), loaded.ExportSubjectPublicKeyInfo());
    }

    public static TheoryData<string, string> BadIds => new()
    {
        { "disk", "../escape" }, { "disk", ".hidden" }, { "disk", "" }, { "disk", "a/b" }, { "disk", new string('a', 129) },
        { "memory", "../escape" }, { "memory", "é" },
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task AnyMethod_InvalidKeyId_ThrowsArgumentException(string kind, string keyId)
    {
        var keys = Create(kind);
        const string message = "key id must be 1 to 128 characters of ASCII letters, digits, '.', '_' or '-', not starting with '.' (Parameter 'keyId')";

        Assert.Equal(message, (await Assert.ThrowsAsync<ArgumentException>(() => keys.GenerateAsync(keyId, KeyType.EcP256))).Message);
        Assert.Equal(message, (await Assert.ThrowsAsync<ArgumentException>(() => keys.GetAsync(keyId))).Message);
        Assert.Equal(message, (await Assert.ThrowsAsync<ArgumentException>(() => keys.DeleteAsync(keyId))).Message);
        using var ok = await keys.GenerateAsync(new string('a', 128), KeyType.EcP256);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task DiskKeyManager_Generate_FileIsPkcs8PemMode0600InDirectoryMode0700()
    {
        var keys = new DiskKeyManager(_dir.Path);
        using var key = await keys.GenerateAsync("x509-abc", KeyType.EcP256);
        var file = Path.Combine(_dir.Path, "keys", "x509-abc.pem");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys.KeyDirectory));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", await File.ReadAllTextAsync(file));
        Assert.Equal(["x509-abc.pem"], Directory.GetFiles(keys.KeyDirectory).Select(Path.GetFileName));

        // Independent reader: openssl parses the file as an EC private key with the same public key.
        using var openssl = new OpenSsl();
        openssl.Run("pkey", "-in", file, "-pubout", "-outform", "DER", "-out", "pub.der");
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), openssl.ReadBytes("pub.der"));
    }

    [Fact]
    public async Task DiskKeyManager_LeftoverTempFileFromACrash_RemovedAndFinalKeyIntact()
    {
        var keys = new DiskKeyManager(_dir.Path);
        using var key = await keys.GenerateAsync("x509-abc", KeyType.EcP256);
        var half = Path.Combine(keys.KeyDirectory, "x509-abc.pem.tmp-0011223344556677");
        await File.WriteAllTextAsync(half, "-----BEGIN PRIVATE KEY-----\nMIG");

        var restarted = new DiskKeyManager(_dir.Path);
        using var loaded = await restarted.GetAsync("x509-abc");

        Assert.False(File.Exists(half));
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), loaded!.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task DiskKeyManager_CorruptFile_ThrowsInvalidDataWithoutKeyMaterial()
    {
        var keys = new DiskKeyManager(_dir.Path);
        var file = Path.Combine(keys.KeyDirectory, "x509-bad.pem");
        await File.WriteAllTextAsync(file, "not a key");
        using var good = await keys.GenerateAsync("x509-good", KeyType.EcP256);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => keys.GetAsync("x509-bad"));

        Assert.Equal($"key file {file} is not a PKCS#8 PEM private key", ex.Message);
        Assert.NotNull(await keys.GetAsync("x509-good"));
    }
}
