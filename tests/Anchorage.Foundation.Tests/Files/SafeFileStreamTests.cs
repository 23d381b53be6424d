using Anchorage.Foundation.Files;
using Anchorage.Testing;

namespace Anchorage.Foundation.Tests.Files;

/// <summary>
/// The streamed write (backups) and the append open (audit and demo logs) of <see cref="SafeFile"/>,
/// against the same attacker-prepared names as the whole-content write, each with its positive control.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SafeFileStreamTests : IDisposable
{
    private const UnixFileMode Rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Log0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

    private readonly string _root = Directory.CreateTempSubdirectory("anchorage-safefile-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task WriteAsync_StreamedAndSymlinkAtFinalNameWithReplaceFalse_IOExceptionTargetUntouchedNoTempLeft()
    {
        var dir = NewDirectory("out");
        var victim = Path.Combine(_root, "victim");
        File.WriteAllText(victim, "root-owned");
        File.CreateSymbolicLink(Path.Combine(dir, "server.backup"), victim);

        await Assert.ThrowsAsync<IOException>(() => SafeFile.WriteAsync(
            Path.Combine(dir, "server.backup"), (s, ct) => s.WriteAsync("archive"u8.ToArray(), ct).AsTask(), SafeFile.PrivateMode, replace: false, CancellationToken.None));

        Assert.Equal("root-owned", File.ReadAllText(victim));
        Assert.Equal(["server.backup"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));

        // Positive control: a free name gets the whole streamed content, 0600 from creation.
        var free = Path.Combine(dir, "other.backup");
        await SafeFile.WriteAsync(free, (s, ct) => s.WriteAsync("archive"u8.ToArray(), ct).AsTask(), SafeFile.PrivateMode, replace: false, CancellationToken.None);
        Assert.Equal("archive", File.ReadAllText(free));
        Assert.Equal(SafeFile.PrivateMode, File.GetUnixFileMode(free));
    }

    [Fact]
    public async Task WriteAsync_StreamFails_NothingAtTheNameAndNoTempLeft()
    {
        var dir = NewDirectory("out");

        await Assert.ThrowsAsync<InvalidOperationException>(() => SafeFile.WriteAsync(
            Path.Combine(dir, "server.backup"),
            async (s, ct) =>
            {
                await s.WriteAsync("half"u8.ToArray(), ct);
                throw new InvalidOperationException("source failed");
            },
            SafeFile.PrivateMode,
            replace: false,
            CancellationToken.None));

        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public void OpenAppend_SymlinkAtTheName_RefusedAndTargetUntouched()
    {
        var dir = NewDirectory("log");
        var victim = Path.Combine(_root, "victim");
        File.WriteAllText(victim, "root-owned");
        var log = Path.Combine(dir, "audit.jsonl");
        File.CreateSymbolicLink(log, victim);

        var ex = Assert.Throws<UnauthorizedAccessException>(() => SafeFile.OpenAppend(log, Log0640));

        Assert.Equal($"refusing to append to \"{log}\": it is not a regular file (a symlink, a directory or a device)", ex.Message);
        Assert.Equal("root-owned", File.ReadAllText(victim));
    }

    [Fact]
    public void OpenAppend_NewThenExisting_CreatedWithModeThenAppended()
    {
        var dir = NewDirectory("log");
        var log = Path.Combine(dir, "audit.jsonl");

        using (var first = SafeFile.OpenAppend(log, Log0640))
        {
            first.Write("one\n"u8);
        }

        using (var second = SafeFile.OpenAppend(log, Log0640))
        {
            second.Write("two\n"u8);
        }

        Assert.Equal("one\ntwo\n", File.ReadAllText(log));
        Assert.Equal(Log0640, File.GetUnixFileMode(log));
    }

    [Fact]
    public void OpenAppend_DirectoryWritableByOthers_Refused()
    {
        var dir = NewDirectory("shared");
        File.SetUnixFileMode(dir, Rwx | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);

        Assert.Throws<UnauthorizedAccessException>(() => SafeFile.OpenAppend(Path.Combine(dir, "audit.jsonl"), Log0640));

        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [RootFact]
    public void OpenAppend_FileOwnedByAnotherUser_Refused()
    {
        var dir = NewDirectory("log");
        var log = Path.Combine(dir, "audit.jsonl");
        File.WriteAllText(log, "theirs\n");
        using (var chown = System.Diagnostics.Process.Start("chown", ["65534", log]))
        {
            chown.WaitForExit();
        }

        var ex = Assert.Throws<UnauthorizedAccessException>(() => SafeFile.OpenAppend(log, Log0640));

        Assert.Equal($"refusing to append to \"{log}\": it is owned by uid 65534, not by you (uid 0)", ex.Message);
        Assert.Equal("theirs\n", File.ReadAllText(log));
    }

    private string NewDirectory(string name)
    {
        var path = Path.Combine(_root, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, Rwx);
        return path;
    }
}
