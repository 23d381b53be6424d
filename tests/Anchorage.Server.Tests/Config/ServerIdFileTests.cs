using System.Runtime.Versioning;
using Anchorage.Server.Config;
using Anchorage.Testing;

namespace Anchorage.Server.Tests.Config;

[SupportedOSPlatform("linux")]
public class ServerIdFileTests
{
    [Fact]
    public void LoadOrCreate_TwiceOnOneDirectory_ReturnsTheSameStoredId()
    {
        using var dir = new TempDir();
        var dataDir = Path.Join(dir.Path, "data");

        var first = ServerIdFile.LoadOrCreate(dataDir);
        var second = ServerIdFile.LoadOrCreate(dataDir);

        Assert.Equal(first, second);
        Assert.Matches("^[0-9a-f]{32}$", first);
        Assert.Equal(first + "\n", File.ReadAllText(Path.Join(dataDir, "server-id")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dataDir));
        Assert.Single(Directory.GetFiles(dataDir));
    }

    [Fact]
    public void LoadOrCreate_OtherDirectory_ReturnsAnotherId()
    {
        using var dir = new TempDir();

        Assert.NotEqual(ServerIdFile.LoadOrCreate(Path.Join(dir.Path, "a")), ServerIdFile.LoadOrCreate(Path.Join(dir.Path, "b")));
    }

    [Fact]
    public void LoadOrCreate_InvalidFile_Throws()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Join(dir.Path, "server-id"), "Not An Id\n");

        var e = Assert.Throws<InvalidDataException>(() => ServerIdFile.LoadOrCreate(dir.Path));
        Assert.Equal($"{Path.Join(dir.Path, "server-id")} does not hold a valid server id", e.Message);
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("server-1.eu_west", true)]
    [InlineData("-a", false)]
    [InlineData("", false)]
    [InlineData("A", false)]
    [InlineData("a b", false)]
    public void IsValid_Table(string id, bool valid) => Assert.Equal(valid, ServerIdFile.IsValid(id));

    [Fact]
    public void IsValid_65Characters_False()
    {
        Assert.True(ServerIdFile.IsValid(new string('a', 64)));
        Assert.False(ServerIdFile.IsValid(new string('a', 65)));
    }
}
