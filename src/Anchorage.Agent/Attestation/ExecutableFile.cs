using System.Globalization;
using Anchorage.Agent.Internal;

namespace Anchorage.Agent.Attestation;

/// <summary>
/// Names a file as the gate's audit records name the executable that connected
/// (<c>process.exeFile</c>, kernel attribution): <c>major:minor:inode</c>. Lets a reader of the
/// audit trail check which file on this host a record means.
/// </summary>
public static class ExecutableFile
{
    /// <summary>The <c>major:minor:inode</c> of <paramref name="path"/> (symbolic links followed).</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static string AuditName(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var file = LinuxNative.StatxIdentity(path);
        return Format(file.DevMajor, file.DevMinor, file.Inode);
    }

    internal static string Format(uint major, uint minor, ulong inode) =>
        string.Create(CultureInfo.InvariantCulture, $"{major}:{minor}:{inode}");
}
