using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Anchorage.Foundation.Files.Internal;

/// <summary>statx(2) for a path's mode and owner (the BCL gives the mode, not the owner), and the caller's uid.</summary>
internal static partial class FileOwnership
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int FileTypeMask = 0xf000;
    private const int RegularFile = 0x8000;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;

    /// <summary>The effective uid of this process.</summary>
    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>The permission bits (with set-id and sticky) and owner uid of <paramref name="path"/>, following symlinks.</summary>
    /// <exception cref="IOException">statx failed (the path does not exist, or cannot be examined).</exception>
    public static (UnixFileMode Mode, uint Owner) Stat(string path)
    {
        // struct statx has one layout on every architecture (include/uapi/linux/stat.h): stx_uid at 20, stx_mode at 28.
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxType | StatxMode | StatxUid, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new IOException($"cannot examine \"{path}\" (errno {Marshal.GetLastPInvokeError()})");
        }

        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        return ((UnixFileMode)(mode & 0xfff), BinaryPrimitives.ReadUInt32LittleEndian(buffer[20..]));
    }

    /// <summary>
    /// What is at <paramref name="path"/> itself (a symlink is not followed): null when nothing; else
    /// whether it is a regular file and its owner uid.
    /// </summary>
    /// <exception cref="IOException">statx failed for another reason than a missing name.</exception>
    public static (bool IsRegularFile, uint Owner)? LinkStat(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxMode | StatxUid, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == 2 // ENOENT
                ? null
                : throw new IOException($"cannot examine \"{path}\" (errno {errno})");
        }

        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        return ((mode & FileTypeMask) == RegularFile, BinaryPrimitives.ReadUInt32LittleEndian(buffer[20..]));
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
