using System.Runtime.InteropServices;

namespace Anchorage.Agent.Kernel.Internal;

/// <summary>
/// The part of libbpf (Debian libbpf1, <c>libbpf.so.1</c>, 1.1+) the agent uses: open and load an
/// object, fix a program's type, attach to a cgroup, a network namespace or a BTF tracepoint with a
/// link, read and write maps.
/// libbpf 1.x returns NULL or a negative errno and sets errno (its default "strict" mode).
/// </summary>
internal static partial class LibBpf
{
    private const string Library = "libbpf.so.1";

    internal const int ProgTypeCgroupSockAddr = 18;
    internal const int AttachCgroupUnixConnect = 49;

    [LibraryImport(Library, EntryPoint = "bpf_object__open_file", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint ObjectOpenFile(string path, nint opts);

    [LibraryImport(Library, EntryPoint = "bpf_object__load", SetLastError = true)]
    internal static partial int ObjectLoad(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint FindProgram(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_fd_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int FindMapFd(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_program__set_type")]
    internal static partial int ProgramSetType(nint prog, int type);

    [LibraryImport(Library, EntryPoint = "bpf_program__set_expected_attach_type")]
    internal static partial int ProgramSetExpectedAttachType(nint prog, int type);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach_cgroup", SetLastError = true)]
    internal static partial nint ProgramAttachCgroup(nint prog, int cgroupFd);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach_netns", SetLastError = true)]
    internal static partial nint ProgramAttachNetns(nint prog, int netnsFd);

    [LibraryImport(Library, EntryPoint = "bpf_map_delete_elem", SetLastError = true)]
    internal static unsafe partial int MapDelete(int fd, void* key);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach", SetLastError = true)]
    internal static partial nint ProgramAttach(nint prog);

    [LibraryImport(Library, EntryPoint = "bpf_link__pin", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int LinkPin(nint link, string path);

    [LibraryImport(Library, EntryPoint = "bpf_map_update_elem", SetLastError = true)]
    internal static unsafe partial int MapUpdate(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Library, EntryPoint = "bpf_link__destroy")]
    internal static partial int LinkDestroy(nint link);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    internal static unsafe partial int MapLookup(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_and_delete_elem", SetLastError = true)]
    internal static unsafe partial int MapLookupAndDelete(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(nint fn);
}
