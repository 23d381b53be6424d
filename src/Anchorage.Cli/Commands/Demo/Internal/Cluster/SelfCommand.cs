using System.Runtime.InteropServices;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// How the demo starts <c>anchorage</c> again as a child process: the program, the arguments that
/// come before the verb, and what the executable is in words.
/// </summary>
/// <param name="FileName">The program to exec.</param>
/// <param name="Prefix">Arguments before the verb (<c>anchorage.dll</c> for the dotnet host; setpriv's options).</param>
/// <param name="Description">For messages, e.g. <c>the anchorage executable</c>.</param>
internal sealed record SelfCommand(string FileName, IReadOnlyList<string> Prefix, string Description)
{
    /// <summary>The uid and gid of <c>nobody</c>, which the rogue runs as when the demo runs as root.</summary>
    public const uint Nobody = 65534;

    /// <summary>anchorage.dll: the entry assembly, next to the app host.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "anchorage.dll");

    /// <summary>
    /// The native app host (<c>bin/.../anchorage</c>) when it exists: the executable the demo's
    /// workloads run as, so that <c>unix:path</c> selectors name it. Else the dotnet host with the dll.
    /// </summary>
    public static SelfCommand Anchorage()
    {
        var appHost = Path.Combine(AppContext.BaseDirectory, "anchorage");
        return File.Exists(appHost) ? new SelfCommand(appHost, [], "the anchorage executable") : DotnetHost() ?? throw new DemoStepException("cannot find the anchorage executable or the dotnet host");
    }

    /// <summary>
    /// The same program through another executable, the dotnet host (<c>dotnet anchorage.dll</c>),
    /// or null when there is none to be found. Used as the rogue when the demo cannot change uid.
    /// </summary>
    public static SelfCommand? DotnetHost()
    {
        var host = HostPath();
        return host is null || !File.Exists(Dll) ? null : new SelfCommand(host, [Dll], "the dotnet host running anchorage.dll");
    }

    /// <summary>Whether the app host exists, so the dotnet host is a different executable from the workloads'.</summary>
    public bool IsAppHost => Prefix.Count == 0;

    /// <summary>This command run as uid and gid <paramref name="uid"/> with no groups, through setpriv (root only).</summary>
    public SelfCommand AsUser(uint uid, string setpriv) => new(
        setpriv,
        ["--reuid", uid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--regid", uid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--clear-groups", FileName, .. Prefix],
        $"{Description} as uid {uid}");

    /// <summary>setpriv from util-linux, or null.</summary>
    public static string? Setpriv() => SetprivPaths.FirstOrDefault(File.Exists);

    private static readonly string[] SetprivPaths = ["/usr/bin/setpriv", "/bin/setpriv"];

    private static string? HostPath()
    {
        // Run as `dotnet anchorage.dll`: this process is the host.
        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == "dotnet")
        {
            return self;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } fromSdk && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        // The shared runtime lives at <root>/shared/Microsoft.NETCore.App/<version>/; the host at <root>/dotnet.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, "dotnet");
        return File.Exists(host) ? host : null;
    }
}
