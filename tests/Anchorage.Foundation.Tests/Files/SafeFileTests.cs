using System.Text;
using Anchorage.Foundation.Files;
using Anchorage.Testing;

namespace Anchorage.Foundation.Tests.Files;

/// <summary>
/// Writes into a directory an attacker prepared: symlinks and pre-created files at the final
/// names, directories others can write or own. Each refusal has its positive control on the same fixture.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SafeFileTests : IDisposable
{
    private const UnixFileMode Rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Everyone = Rwx | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly string _root = Directory.CreateTempSubdirectory("anchorage-safefile-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string NewDirectory(string name, UnixFileMode mode)
    {
        var path = Path.Combine(_root, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    [Fact]
    public async Task WriteAsync_SymlinkAtFinalName_ReplacesTheLinkTargetUntouched()
    {
        var dir = NewDirectory("out", Rwx);
        var victim = Path.Combine(_root, "victim");
        File.WriteAllText(victim, "root-owned");
        File.CreateSymbolicLink(Path.Combine(dir, "svid.pem"), victim);

        await SafeFile.WriteAsync(Path.Combine(dir, "svid.pem"), "new"u8.ToArray(), SafeFile.PublicMode, CancellationToken.None);

        Assert.Equal("root-owned", File.ReadAllText(victim));
        Assert.Null(new FileInfo(Path.Combine(dir, "svid.pem")).LinkTarget);
        Assert.Equal("new", File.ReadAllText(Path.Combine(dir, "svid.pem")));
        Assert.Equal(SafeFile.PublicMode, File.GetUnixFileMode(Path.Combine(dir, "svid.pem")));
        Assert.Equal(["svid.pem"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName)); // no temp file left
    }

    [Fact]
    public void Write_PreCreatedFileHeldOpenByItsMaker_KeyNeverReachesTheirHandle()
    {
        var dir = NewDirectory("out", Rwx);
        var key = Path.Combine(dir, "key.pem");
        File.WriteAllText(key, "old");
        File.SetUnixFileMode(key, Everyone & ~(UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute));
        using var attacker = new FileStream(key, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        SafeFile.Write(key, "PRIVATE KEY"u8, SafeFile.PrivateMode);

        using var reader = new StreamReader(attacker, Encoding.UTF8);
        Assert.Equal("old", reader.ReadToEnd());
        Assert.Equal("PRIVATE KEY", File.ReadAllText(key));
        Assert.Equal(SafeFile.PrivateMode, File.GetUnixFileMode(key));
    }

    [Fact]
    public void Write_DirectoryWritableByOthers_RefusedAndNothingWritten()
    {
        var open = NewDirectory("open", Everyone);
        var mine = NewDirectory("mine", Rwx);

        var ex = Assert.Throws<UnauthorizedAccessException>(() => SafeFile.Write(Path.Combine(open, "key.pem"), "k"u8, SafeFile.PrivateMode));
        SafeFile.Write(Path.Combine(mine, "key.pem"), "k"u8, SafeFile.PrivateMode);

        Assert.Equal(
            $"refusing to write into \"{open}\": it is writable by other users (mode 0777) and not a sticky directory owned by you; use a directory only you can write",
            ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(open));
        Assert.Equal("k", File.ReadAllText(Path.Combine(mine, "key.pem")));
    }

    [Fact]
    public void Write_GroupWritableDirectory_Refused()
    {
        var shared = NewDirectory("shared", Rwx | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute);

        var ex = Assert.Throws<UnauthorizedAccessException>(() => SafeFile.Write(Path.Combine(shared, "state"), "s"u8, SafeFile.PrivateMode));

        Assert.Contains("(mode 0770)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_StickyDirectoryOwnedByCaller_Allowed()
    {
        var sticky = NewDirectory("sticky", Everyone | UnixFileMode.StickyBit);

        SafeFile.Write(Path.Combine(sticky, "bundle.pem"), "b"u8, SafeFile.PublicMode);

        Assert.Equal("b", File.ReadAllText(Path.Combine(sticky, "bundle.pem")));
    }

    [RootFact]
    public void Write_StickyOrPrivateDirectoryOwnedByAnotherUser_Refused()
    {
        var sticky = NewDirectory("sticky", Everyone | UnixFileMode.StickyBit);
        var theirs = NewDirectory("theirs", Rwx);
        var control = NewDirectory("control", Everyone | UnixFileMode.StickyBit);
        Chown(sticky, 65534);
        Chown(theirs, 65534);

        var stickyEx = Assert.Throws<UnauthorizedAccessException>(() => SafeFile.Write(Path.Combine(sticky, "k"), "k"u8, SafeFile.PrivateMode));
        var theirsEx = Assert.Throws<UnauthorizedAccessException>(() => SafeFile.Write(Path.Combine(theirs, "k"), "k"u8, SafeFile.PrivateMode));
        SafeFile.Write(Path.Combine(control, "k"), "k"u8, SafeFile.PrivateMode);

        Assert.Equal(
            $"refusing to write into \"{sticky}\": it is writable by other users (mode 1777) and not a sticky directory owned by you; use a directory only you can write",
            stickyEx.Message);
        Assert.Equal($"refusing to write into \"{theirs}\": it is owned by uid 65534, not by you (uid 0) or root", theirsEx.Message);
        Assert.Empty(Directory.GetFileSystemEntries(theirs));
    }

    [Fact]
    public void Write_ReplaceFalseAndFileExists_IOExceptionExistingKept()
    {
        var dir = NewDirectory("out", Rwx);
        var path = Path.Combine(dir, "server_id");
        SafeFile.Write(path, "first"u8, SafeFile.PrivateMode, replace: false);

        Assert.Throws<IOException>(() => SafeFile.Write(path, "second"u8, SafeFile.PrivateMode, replace: false));

        Assert.Equal("first", File.ReadAllText(path));
        Assert.Single(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public void Write_MissingDirectory_DirectoryNotFound()
    {
        var missing = Path.Combine(_root, "missing");

        var ex = Assert.Throws<DirectoryNotFoundException>(() => SafeFile.Write(Path.Combine(missing, "f"), "x"u8, SafeFile.PublicMode));

        Assert.Equal($"directory \"{missing}\" does not exist", ex.Message);
    }

    private static void Chown(string path, int uid)
    {
        using var chown = System.Diagnostics.Process.Start("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path]);
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }
}
