using System.Globalization;
using Anchorage.Foundation.Files;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// The files and directories the cluster makes: directories 0755 whatever the umask (so the
/// safe-write helper accepts them, and a workload running as another user can walk to its socket),
/// configs and manifests 0600 through the one safe-write helper (an agent config holds its join token).
/// </summary>
internal static class ClusterFiles
{
    /// <summary>rwx for the owner, r-x for the rest.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>rwx for the owner, --x for the rest: walked through, not listed.</summary>
    public const UnixFileMode TraversableMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> (and its parents) with <see cref="DirectoryMode"/>.</summary>
    public static void MakeDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    public static void Chmod(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    public static UnixFileMode ModeOf(string path) => OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(path);

    /// <summary>Writes a config or manifest, mode 0600.</summary>
    public static Task WriteAsync(string path, string text, CancellationToken cancellationToken) =>
        SafeFile.WriteTextAsync(path, text, SafeFile.PrivateMode, cancellationToken);

    /// <summary>This process's real uid (the <c>adminUids</c> of every config, the workloads' <c>unix:uid</c>).</summary>
    public static uint OwnUid() =>
        uint.Parse(
            File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2],
            CultureInfo.InvariantCulture);
}
