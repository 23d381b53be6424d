using Anchorage.Testing.Kernel;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>The theory form of <see cref="KernelFactAttribute"/>: root and cgroup v2 at /sys/fs/cgroup/unified.</summary>
internal sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists(Path.Combine(TestCgroup.Root, "cgroup.procs")) || !File.Exists("/usr/bin/setpriv"))
        {
            Skip = "needs root, setpriv and cgroup v2 at /sys/fs/cgroup/unified";
        }
    }
}
