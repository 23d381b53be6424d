using Anchorage.Foundation.Users;

namespace Anchorage.Foundation.Tests.Users;

public sealed class IdNamesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("anchorage-idnames-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Read_PasswdLines_FirstEntryPerIdWinsAndBadLinesAreSkipped()
    {
        var path = Write(
            "root:x:0:0:root:/root:/bin/bash",
            "# comment:x:7:7",
            "",
            ":x:8:8::/:/bin/false",
            "toor:x:0:0:second root:/root:/bin/sh",
            "alice:x:1000:1000::/home/alice:/bin/bash",
            "negative:x:-1:0::/:/bin/false",
            "short:x",
            "hex:x:0x10:0::/:/bin/false");

        var names = IdNames.Read(path);

        Assert.Equal(new Dictionary<uint, string> { [0] = "root", [1000] = "alice" }, names);
    }

    [Fact]
    public void Read_MissingFile_NoNames()
    {
        Assert.Empty(IdNames.Read(Path.Combine(_dir, "absent")));
    }

    [Fact]
    public void UserName_KnownAndUnknownUid_NameOrEmpty()
    {
        var path = Write("alice:x:1000:1000::/home/alice:/bin/bash");

        Assert.Equal("alice", IdNames.UserName(1000, path));
        Assert.Equal(string.Empty, IdNames.UserName(1001, path));
    }

    [Fact]
    public void UserName_SystemPasswd_RootIsNamed()
    {
        // Positive control on the real file: every Linux system names uid 0.
        Assert.False(string.IsNullOrEmpty(IdNames.UserName(0)));
    }

    private string Write(params string[] lines)
    {
        var path = Path.Combine(_dir, "passwd");
        File.WriteAllLines(path, lines);
        return path;
    }
}
