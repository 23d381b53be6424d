using Anchorage.Testing.Kernel;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// A fact that loads eBPF programs into the real kernel: needs root and cgroup v2 at
/// /sys/fs/cgroup/unified. The programs themselves must have been built (clang, bpftool): a
/// missing object fails the test rather than skipping it.
/// </summary>
internal sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists(Path.Combine(TestCgroup.Root, "cgroup.procs")))
        {
            Skip = "needs root and cgroup v2 at /sys/fs/cgroup/unified";
        }
    }
}
