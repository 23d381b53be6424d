using System.Globalization;
using System.Security.Cryptography;
using Anchorage.Agent.Attestation.Internal;
using Anchorage.Agent.Internal;
using Anchorage.Foundation.Selectors;

namespace Anchorage.Agent.Attestation;

/// <summary>
/// Attests a local process by its Unix facts: <c>unix:uid:N</c>, <c>unix:user:NAME</c>,
/// <c>unix:gid:N</c>, <c>unix:group:NAME</c>, <c>unix:supplementary_gid:N</c>,
/// <c>unix:supplementary_group:NAME</c>, <c>unix:path:/abs/exe</c> and
/// <c>unix:sha256:HEX</c> of the executable.
/// </summary>
/// <remarks>
/// <para>
/// Every fact is read from /proc/&lt;pid&gt;, and a pid can be reused by another process as soon
/// as the peer exits. So the attestor gathers the facts first and checks afterwards that the
/// peer's pidfd has not exited and that the pid still has the peer's start time. A process that
/// is alive keeps its pid, so if it was alive after the last read, every read saw that process;
/// if not, attestation fails with <see cref="WorkloadAttestationException"/> and the caller never
/// receives another process's identity.
/// </para>
/// <para>
/// The uid and gid are those the kernel recorded when the peer connected: the real ids from the
/// eBPF record (<see cref="PeerProcess.ConnectFacts"/>), or in fallback mode the checked ids of
/// <see cref="PeerProcess"/>. A setuid or setgid image (kernel mode) gets only
/// <c>unix:setid:true</c>, <c>unix:euid:N</c>, <c>unix:egid:N</c> and its executable's
/// selectors, so only an entry that names it matches; fallback mode refuses it outright. Names
/// come from /etc/passwd and /etc/group, supplementary groups from the <c>Groups:</c> line of
/// /proc/pid/status.
/// </para>
/// <para>
/// The executable is the one the process connected with (kernel mode: the recorded device and
/// inode; fallback: the one pinned at accept, which must still run). <c>unix:path</c> is emitted
/// only when that path, looked up in the agent's own mount namespace, is that very file, so a
/// bind mount in another namespace or an exec after connect does not name another binary.
/// <c>unix:sha256</c> hashes that file, reached through /proc/pid/exe or the path; a deleted
/// binary gets no <c>unix:path</c>. Hashes are cached by device, inode, size, mtime and ctime,
/// so an unchanged binary is read once; the cache holds at most the configured number of binaries.
/// </para>
/// </remarks>
public sealed class UnixWorkloadAttestor : IWorkloadAttestor
{
    /// <summary>How many executables' hashes are kept by default.</summary>
    public const int DefaultHashCacheCapacity = 1024;

    private const string SelectorType = "unix";
    private const string DeletedSuffix = " (deleted)";

    private readonly int hashCacheCapacity;
    private readonly Dictionary<FileIdentity, string> hashCache = [];
    private readonly Queue<FileIdentity> hashCacheOrder = new();
    private readonly Lock hashCacheLock = new();
    private readonly IdNameFile _users = new("/etc/passwd");
    private readonly IdNameFile _groups = new("/etc/group");
    private long hashComputations;

    /// <summary>Creates an attestor with <see cref="DefaultHashCacheCapacity"/>.</summary>
    public UnixWorkloadAttestor()
        : this(DefaultHashCacheCapacity)
    {
    }

    /// <param name="hashCacheCapacity">How many executables' hashes to keep (at least 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hashCacheCapacity"/> is less than 1.</exception>
    public UnixWorkloadAttestor(int hashCacheCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hashCacheCapacity);
        this.hashCacheCapacity = hashCacheCapacity;
    }

    /// <summary>Test hook: runs after the facts are gathered, before the final liveness check.</summary>
    internal Func<PeerProcess, ValueTask>? AfterGathering { get; set; }

    /// <summary>How many times an executable was actually hashed (cache misses).</summary>
    internal long HashComputations => Interlocked.Read(ref hashComputations);

    /// <inheritdoc />
    public async ValueTask<WorkloadAttestation> AttestAsync(PeerProcess peer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var pid = peer.ProcessId;
        var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
        var selectors = new List<Selector>();

        // One poll of the pidfd: a process that is already gone gets that answer, not the
        // mismatch its successor's facts would give.
        if (!PeerCredentialsReader.IsAlive(peer))
        {
            throw PeerCredentialsReader.Exited(pid);
        }

        try
        {
            if (peer.ConnectFacts is null)
            {
                FallbackChecks.Recheck(peer);
            }

            if (peer.ConnectFacts is { IsSetId: true } setId)
            {
                // A setuid or setgid image: none of the ordinary selectors, so only an entry that
                // names it (unix:setid:true, its effective ids, or its binary) can match.
                Add(selectors, "setid", "true");
                Add(selectors, "euid", setId.EffectiveUserId);
                Add(selectors, "egid", setId.EffectiveGroupId);
            }
            else
            {
                AddIdentitySelectors(selectors, peer, proc);
            }

            await AddExecutableSelectorsAsync(selectors, peer, proc, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // The /proc entry vanished: the process exited (or is a zombie) while we read it.
            throw PeerCredentialsReader.Exited(pid);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new WorkloadAttestationException(
                $"cannot read /proc entries of process {pid.ToString(CultureInfo.InvariantCulture)}: permission denied", e);
        }

        if (AfterGathering is { } hook)
        {
            await hook(peer).ConfigureAwait(false);
        }

        // The facts are this process's only if it is still the one behind the pid now.
        if (!PeerCredentialsReader.IsAlive(peer))
        {
            throw PeerCredentialsReader.Exited(pid);
        }

        return new WorkloadAttestation(pid, selectors);
    }

    // /proc files are read synchronously, as everywhere in the agent: procfs never waits on a disk,
    // and an asynchronous FileStream read costs a thread-pool hop per call (profiled: ~9% of a gate
    // connection's agent CPU).
    private void AddIdentitySelectors(List<Selector> selectors, PeerProcess peer, string proc)
    {
        var users = _users.Read();
        var groups = _groups.Read();

        Add(selectors, "uid", peer.UserId);
        if (users.TryGetValue(peer.UserId, out var user))
        {
            Add(selectors, "user", user);
        }

        Add(selectors, "gid", peer.GroupId);
        if (groups.TryGetValue(peer.GroupId, out var group))
        {
            Add(selectors, "group", group);
        }

        foreach (var gid in ProcFs.ReadGroups(peer.ProcessId))
        {
            Add(selectors, "supplementary_gid", gid);
            if (groups.TryGetValue(gid, out var name))
            {
                Add(selectors, "supplementary_group", name);
            }
        }
    }

    /// <summary>
    /// <c>unix:path</c> only when the path, looked up in the agent's own mount namespace, is the
    /// very file the process runs (connected with, in kernel mode); <c>unix:sha256</c> of that file.
    /// </summary>
    private async Task AddExecutableSelectorsAsync(List<Selector> selectors, PeerProcess peer, string proc, CancellationToken cancellationToken)
    {
        var exeLink = proc + "/exe";
        var running = LinuxNative.StatxIdentity(exeLink);
        var connected = peer.ConnectFacts is { } facts
            ? new FileIdentity(facts.ExecutableDeviceNumbers.Major, facts.ExecutableDeviceNumbers.Minor, facts.ExecutableInode, 0, 0, 0, 0, 0)
            : running;
        var exe = new FileInfo(exeLink).LinkTarget ?? throw PeerCredentialsReader.Exited(peer.ProcessId);
        var pathMatches = false;
        FileIdentity pathIdentity = default;
        if (!exe.EndsWith(DeletedSuffix, StringComparison.Ordinal) && Path.IsPathFullyQualified(exe))
        {
            try
            {
                pathIdentity = LinuxNative.StatxIdentity(exe);
                pathMatches = FallbackChecks.SameFile(pathIdentity, connected);
            }
            catch (IOException)
            {
                // No such path in the agent's mount namespace.
            }
        }

        if (pathMatches)
        {
            Add(selectors, "path", exe);
        }

        // The file to hash: the running binary if it is the one that connected, else the path
        // when it names that file; else (exec'd since, from an unreachable file) no hash.
        var (source, seen) = FallbackChecks.SameFile(running, connected) ? (exeLink, running) : pathMatches ? (exe, pathIdentity) : (null, default);
        if (source is not null)
        {
            // A binary hashed before under the identity just seen (device, inode, size, mtime,
            // ctime) needs no open: the file that identity names is the one the process runs.
            var hash = CachedHash(seen) ?? await HashExecutableAsync(source, connected, cancellationToken).ConfigureAwait(false);
            if (hash is not null)
            {
                Add(selectors, "sha256", hash);
            }
        }
    }

    private static void Add(List<Selector> selectors, string key, uint id) =>
        Add(selectors, key, id.ToString(CultureInfo.InvariantCulture));

    private static void Add(List<Selector> selectors, string key, string value) =>
        selectors.Add(new Selector(SelectorType, key + ":" + value));

    private string? CachedHash(FileIdentity identity)
    {
        lock (hashCacheLock)
        {
            return hashCache.GetValueOrDefault(identity);
        }
    }

    private async Task<string?> HashExecutableAsync(string exeLink, FileIdentity expected, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(exeLink, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
        var identity = LinuxNative.StatxIdentity(handle);
        if (!FallbackChecks.SameFile(identity, expected))
        {
            // Replaced between the check and the open: hash nothing rather than another file.
            return null;
        }

        if (CachedHash(identity) is { } cached)
        {
            return cached;
        }

        Interlocked.Increment(ref hashComputations);
        // The stream does not own the handle's lifetime here: the handle is disposed by the
        // using above, after the second statx.
        var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));

        // A binary rewritten while we read it gives a hash of neither version: do not keep it.
        if (LinuxNative.StatxIdentity(handle) != identity)
        {
            return hash;
        }

        lock (hashCacheLock)
        {
            if (hashCache.TryAdd(identity, hash))
            {
                hashCacheOrder.Enqueue(identity);
                while (hashCache.Count > hashCacheCapacity)
                {
                    hashCache.Remove(hashCacheOrder.Dequeue());
                }
            }
        }

        return hash;
    }
}
