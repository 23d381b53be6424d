using System.Diagnostics;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Two network namespaces joined by a veth pair: <see cref="A"/> holds 10.77.0.1/24, <see cref="B"/>
/// holds 10.77.0.2/24, each with its loopback up. Names are unique per instance (several test runs
/// may share the machine). Dispose deletes both namespaces, which removes the veth pair; kill the
/// processes inside first.
/// </summary>
internal sealed class NetworkNamespaces : IDisposable
{
    public const string AddressA = "10.77.0.1";
    public const string AddressB = "10.77.0.2";

    private readonly List<string> _created = [];

    private NetworkNamespaces(string suffix)
    {
        A = "anc-fed-" + suffix + "-a";
        B = "anc-fed-" + suffix + "-b";
    }

    public string A { get; }

    public string B { get; }

    /// <summary>Why namespaces cannot be made here (not root, or no <c>ip</c>); null when they can.</summary>
    public static string? Unavailable =>
        !Environment.IsPrivilegedProcess ? "not root"
        : IpTool is null ? "no ip (iproute2) in /usr/sbin, /sbin or /usr/bin"
        : null;

    private static string? IpTool => new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip" }.FirstOrDefault(File.Exists);

    /// <summary>Creates the two namespaces and the veth pair between them; on any failure removes what it made.</summary>
    public static NetworkNamespaces Create()
    {
        // Interface names are at most 15 bytes: "anc" + 8 hex digits + "a"/"b".
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..4]);
        var namespaces = new NetworkNamespaces(suffix);
        var vethA = "anc" + suffix + "a";
        var vethB = "anc" + suffix + "b";
        try
        {
            foreach (var ns in (string[])[namespaces.A, namespaces.B])
            {
                Ip("netns", "add", ns);
                namespaces._created.Add(ns);
                Ip("-n", ns, "link", "set", "lo", "up");
            }

            Ip("link", "add", vethA, "type", "veth", "peer", "name", vethB);
            Ip("link", "set", vethA, "netns", namespaces.A);
            Ip("link", "set", vethB, "netns", namespaces.B);
            Ip("-n", namespaces.A, "addr", "add", AddressA + "/24", "dev", vethA);
            Ip("-n", namespaces.B, "addr", "add", AddressB + "/24", "dev", vethB);
            Ip("-n", namespaces.A, "link", "set", vethA, "up");
            Ip("-n", namespaces.B, "link", "set", vethB, "up");
            return namespaces;
        }
        catch
        {
            // The veth may still be in the root namespace if moving it failed.
            TryIp("link", "del", vethA);
            namespaces.Dispose();
            throw;
        }
    }

    /// <summary>Deletes the namespaces (and with them the veth pair); reports what could not be deleted.</summary>
    public void Dispose()
    {
        var failures = _created.Select(ns => TryIp("netns", "del", ns)).Where(e => e is not null).ToList();
        _created.Clear();
        if (failures.Count > 0)
        {
            throw new InvalidOperationException("could not delete network namespaces: " + string.Join("; ", failures));
        }
    }

    private static void Ip(params string[] args)
    {
        if (TryIp(args) is { } error)
        {
            throw new InvalidOperationException(error);
        }
    }

    // Null on success, else "ip ARGS: exit N: stderr".
    private static string? TryIp(params string[] args)
    {
        var psi = new ProcessStartInfo(IpTool ?? "ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            return $"ip {string.Join(' ', args)}: did not finish within 30 s";
        }

        return process.ExitCode == 0 ? null : $"ip {string.Join(' ', args)}: exit {process.ExitCode}: {stderr.GetAwaiter().GetResult().Trim()}";
    }
}
