namespace Anchorage.Agent.Kernel;

/// <summary>
/// What the kernel recorded about a process at the instant it called <c>connect()</c>: its
/// thread group id, real and effective ids, executable (device and inode), namespaces, cgroup
/// and start time. Facts never change after the fact: a process that exec's, changes ids or
/// passes its socket on afterwards is still described as it was when it connected.
/// </summary>
/// <param name="ProcessId">The thread group id, in the initial pid namespace.</param>
/// <param name="RealUserId">The real uid.</param>
/// <param name="EffectiveUserId">The effective uid (differs from the real one in a setuid image).</param>
/// <param name="RealGroupId">The real gid.</param>
/// <param name="EffectiveGroupId">The effective gid.</param>
/// <param name="ExecutableDevice">The executable's device as the kernel numbers it (major &lt;&lt; 20 | minor); 0 with no executable.</param>
/// <param name="ExecutableInode">The executable's inode; 0 with no executable.</param>
/// <param name="MountNamespace">The inode of the process's mount namespace.</param>
/// <param name="UserNamespace">The inode of the process's user namespace.</param>
/// <param name="CgroupId">The cgroup v2 id of the process.</param>
/// <param name="StartTimeNs">When the process started, nanoseconds since boot.</param>
/// <param name="ConnectTimeNs">When it connected, nanoseconds since boot.</param>
public readonly record struct ConnectFacts(
    int ProcessId,
    uint RealUserId,
    uint EffectiveUserId,
    uint RealGroupId,
    uint EffectiveGroupId,
    uint ExecutableDevice,
    ulong ExecutableInode,
    uint MountNamespace,
    uint UserNamespace,
    ulong CgroupId,
    ulong StartTimeNs,
    ulong ConnectTimeNs)
{
    /// <summary>The start time in clock ticks since boot, as /proc/pid/stat field 22 shows it (USER_HZ 100).</summary>
    public ulong StartTimeTicks => StartTimeNs / 10_000_000;

    /// <summary>The executable's device split as stat(2) reports it.</summary>
    public (uint Major, uint Minor) ExecutableDeviceNumbers => (ExecutableDevice >> 20, ExecutableDevice & 0xfffff);

    /// <summary>True when the process ran a setuid or setgid image (effective ids differ from real ones).</summary>
    public bool IsSetId => RealUserId != EffectiveUserId || RealGroupId != EffectiveGroupId;
}
