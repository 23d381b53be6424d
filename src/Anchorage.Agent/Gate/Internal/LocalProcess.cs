using System.Collections.Frozen;
using System.Globalization;
using Anchorage.Agent.Attestation;
using Anchorage.Foundation.Audit;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// A local process the gate attributed a connection to: pinned (pidfd), attested, and described
/// for the audit trail. The executable's path and hash come from the attestor's selectors
/// (<c>unix:path</c>, <c>unix:sha256</c>; the attestor caches hashes by inode and mtime), so the
/// gate never hashes a binary per connection.
/// </summary>
internal sealed class LocalProcess : IDisposable
{
    private LocalProcess(PeerProcess peer, IReadOnlyList<WorkloadSelector> selectors, AuditProcess audit)
    {
        Peer = peer;
        Selectors = selectors;
        SelectorSet = selectors.Select(s => s.ToString()).ToFrozenSet(StringComparer.Ordinal);
        Audit = audit;
        CallerKey = string.Create(CultureInfo.InvariantCulture, $"gate:pid:{peer.ProcessId}:{peer.StartTime}");
    }

    public PeerProcess Peer { get; }

    /// <summary>The key the cache resolves this process under.</summary>
    public string CallerKey { get; }

    public IReadOnlyList<WorkloadSelector> Selectors { get; }

    public IReadOnlySet<string> SelectorSet { get; }

    public AuditProcess Audit { get; }

    /// <summary>An attested process.</summary>
    public static LocalProcess Attested(PeerProcess peer, WorkloadAttestation attestation)
    {
        string? exe = null;
        string? sha = null;
        foreach (var selector in attestation.Selectors)
        {
            if (selector.Type != "unix")
            {
                continue;
            }

            if (selector.Value.StartsWith("path:", StringComparison.Ordinal))
            {
                exe = selector.Value["path:".Length..];
            }
            else if (selector.Value.StartsWith("sha256:", StringComparison.Ordinal))
            {
                sha = selector.Value["sha256:".Length..];
            }
        }

        return new LocalProcess(peer, attestation.Selectors, Describe(peer, exe ?? ReadExe(peer), sha));
    }

    /// <summary>A process attestation failed for: what the kernel told us, no selectors.</summary>
    public static AuditProcess Unattested(PeerProcess peer) => Describe(peer, ReadExe(peer), null);

    public void Dispose() => Peer.Dispose();

    private static AuditProcess Describe(PeerProcess peer, string? exe, string? sha)
    {
        var audit = new AuditProcess(peer.ProcessId, exe, sha, peer.UserId, peer.GroupId, peer.StartTime)
        {
            Attribution = peer.Mode == AttributionMode.Kernel ? "kernel" : "fallback",
        };
        if (peer.ConnectFacts is not { } facts)
        {
            return audit;
        }

        // The connect-time facts, so the record names the binary that connected even if the process exec'd since.
        var (major, minor) = facts.ExecutableDeviceNumbers;
        return audit with
        {
            Euid = facts.EffectiveUserId,
            ExeFile = ExecutableFile.Format(major, minor, facts.ExecutableInode),
            MountNamespace = facts.MountNamespace,
            CgroupId = facts.CgroupId,
        };
    }

    // The running executable's path. In kernel mode only while it is still the file recorded at
    // connect(): `exe` and `exeFile` then always name one binary, and a process that exec'd after
    // connecting gets no `exe` rather than the path of the binary it runs now.
    private static string? ReadExe(PeerProcess peer)
    {
        var link = $"/proc/{peer.ProcessId.ToString(CultureInfo.InvariantCulture)}/exe";
        try
        {
            var path = new FileInfo(link).LinkTarget;
            if (peer.ConnectFacts is { } facts)
            {
                var running = Anchorage.Agent.Internal.LinuxNative.StatxIdentity(link);
                var (major, minor) = facts.ExecutableDeviceNumbers;
                if (running.DevMajor != major || running.DevMinor != minor || running.Inode != facts.ExecutableInode)
                {
                    return null;
                }
            }

            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
