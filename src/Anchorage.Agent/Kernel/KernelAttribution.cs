using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel.Internal;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Kernel;

/// <summary>
/// The agent's eBPF programs (Bpf/attribution.bpf.c), loaded with libbpf and attached with links
/// to the configured cgroups: they record the facts of every process in those cgroups at the
/// moment it calls <c>connect()</c>, and the agent takes each record once, in O(1), when it
/// accepts the connection.
/// </summary>
/// <remarks>
/// Links (not <c>BPF_PROG_ATTACH</c>) are used so the programs are detached when the agent's
/// process ends, however it ends: a crashed agent leaves nothing behind in the cgroups. Every map
/// is an LRU hash of 65,536 records; a record is deleted when it is read, and one never read is
/// evicted by newer ones.
/// </remarks>
public sealed class KernelAttribution : IDisposable
{
    /// <summary>The object file's name under <c>bpf/</c> next to the agent's assembly.</summary>
    public const string ObjectFileName = "attribution.bpf.o";

    private const int FactsSize = 64;
    private const int TupleSize = 40;

    private static readonly (string Program, string Kind)[] CgroupPrograms =
    [
        ("record_connect4", "connect4"),
        ("record_connect6", "connect6"),
        ("record_connect_unix", "connect_unix"),
        ("carry_to_tuple", "sockops"),
    ];

    private readonly Lock _gate = new();
    private readonly List<nint> _links = [];
    private nint _object;
    private int _tcpFacts = -1;
    private int _unixFacts = -1;
    private int _lastExec = -1;
    private int _exited = -1;

    private KernelAttribution(IReadOnlyList<string> cgroups)
    {
        Cgroups = cgroups;
    }

    /// <summary>The cgroup v2 directories the programs are attached to.</summary>
    public IReadOnlyList<string> Cgroups { get; }

    /// <summary>Where the agent looks for the object by default: <c>bpf/attribution.bpf.o</c> beside its assembly.</summary>
    public static string DefaultObjectPath => Path.Combine(AppContext.BaseDirectory, "bpf", ObjectFileName);

    /// <summary>
    /// Loads the programs from <paramref name="objectPath"/> and attaches them to every cgroup in
    /// <paramref name="cgroups"/>.
    /// </summary>
    /// <exception cref="KernelAttributionException">
    /// The object is missing, libbpf is not installed, the kernel refused a program, or a cgroup
    /// cannot be used; the message says which.
    /// </exception>
    public static KernelAttribution Load(string objectPath, IReadOnlyList<string> cgroups)
    {
        ArgumentNullException.ThrowIfNull(objectPath);
        ArgumentNullException.ThrowIfNull(cgroups);
        if (cgroups.Count == 0)
        {
            throw new KernelAttributionException("no cgroups are configured to attach to");
        }

        foreach (var cgroup in cgroups)
        {
            CheckCgroup(cgroup);
        }

        if (!File.Exists(objectPath))
        {
            throw new KernelAttributionException($"{objectPath} is missing (the agent was built without clang or bpftool)");
        }

        var attribution = new KernelAttribution(cgroups);
        try
        {
            attribution.LoadObject(objectPath);
            foreach (var cgroup in cgroups)
            {
                attribution.AttachTo(cgroup);
            }

            attribution.AttachExecTracepoint();
        }
        catch
        {
            attribution.Dispose();
            throw;
        }

        return attribution;
    }

    /// <summary>
    /// Takes (reads and deletes) the facts recorded when the unix socket with inode
    /// <paramref name="clientSocketInode"/> connected.
    /// </summary>
    public bool TryTakeUnix(ulong clientSocketInode, out ConnectFacts facts)
    {
        Span<byte> key = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(key, clientSocketInode);
        return TryTake(_unixFacts, key, out facts);
    }

    /// <summary>
    /// Takes (reads and deletes) the facts recorded when the TCP connection from
    /// <paramref name="client"/> to <paramref name="server"/> was opened.
    /// </summary>
    public bool TryTakeTcp(IPEndPoint client, IPEndPoint server, out ConnectFacts facts)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(server);
        Span<byte> key = stackalloc byte[TupleSize];
        key.Clear();
        WriteAddress(key[..16], client.Address);
        WriteAddress(key[16..32], server.Address);
        BinaryPrimitives.WriteUInt16LittleEndian(key[32..], (ushort)client.Port);
        BinaryPrimitives.WriteUInt16LittleEndian(key[34..], (ushort)server.Port);
        return TryTake(_tcpFacts, key, out facts);
    }

    /// <summary>When process <paramref name="processId"/> last exec'd (ns since boot), if it did while the programs were attached.</summary>
    public unsafe ulong? LastExecNs(int processId)
    {
        var key = (uint)processId;
        ulong value = 0;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_object == 0, this);
            return LibBpf.MapLookup(_lastExec, &key, &value) == 0 ? value : null;
        }
    }

    /// <summary>
    /// True when the process <paramref name="facts"/> names has exited since it connected (its
    /// thread group ended), even if its pid belongs to another process by now: the kernel noted
    /// the ended group's exact start time, which /proc (clock ticks) cannot tell apart from a
    /// newcomer started within the same tick.
    /// </summary>
    public unsafe bool HasExited(in ConnectFacts facts)
    {
        var key = (uint)facts.ProcessId;
        ulong start = 0;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_object == 0, this);
            return LibBpf.MapLookup(_exited, &key, &start) == 0 && start == facts.StartTimeNs;
        }
    }

    /// <summary>Detaches every program and frees the maps.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var link in _links)
            {
                _ = LibBpf.LinkDestroy(link);
            }

            _links.Clear();
            if (_object != 0)
            {
                LibBpf.ObjectClose(_object);
                _object = 0;
            }
        }
    }

    /// <summary>Refuses a path that is not a cgroup v2 directory, and the root cgroup (it has no cgroup.type).</summary>
    internal static void CheckCgroup(string cgroup)
    {
        if (!File.Exists(Path.Combine(cgroup, "cgroup.procs")))
        {
            throw new KernelAttributionException($"{cgroup} is not a cgroup v2 directory");
        }

        if (!File.Exists(Path.Combine(cgroup, "cgroup.type")))
        {
            throw new KernelAttributionException($"{cgroup} is the root cgroup: attaching there would attribute every process on the host");
        }
    }

    private static void WriteAddress(Span<byte> destination, IPAddress address)
    {
        var v6 = address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address;
        _ = v6.TryWriteBytes(destination, out _);
    }

    private static ConnectFacts Parse(ReadOnlySpan<byte> value) => new(
        ProcessId: (int)BinaryPrimitives.ReadUInt32LittleEndian(value[36..]),
        RealUserId: BinaryPrimitives.ReadUInt32LittleEndian(value[40..]),
        EffectiveUserId: BinaryPrimitives.ReadUInt32LittleEndian(value[44..]),
        RealGroupId: BinaryPrimitives.ReadUInt32LittleEndian(value[48..]),
        EffectiveGroupId: BinaryPrimitives.ReadUInt32LittleEndian(value[52..]),
        ExecutableDevice: BinaryPrimitives.ReadUInt32LittleEndian(value[32..]),
        ExecutableInode: BinaryPrimitives.ReadUInt64LittleEndian(value[16..]),
        MountNamespace: BinaryPrimitives.ReadUInt32LittleEndian(value[56..]),
        UserNamespace: BinaryPrimitives.ReadUInt32LittleEndian(value[60..]),
        CgroupId: BinaryPrimitives.ReadUInt64LittleEndian(value[24..]),
        StartTimeNs: BinaryPrimitives.ReadUInt64LittleEndian(value),
        ConnectTimeNs: BinaryPrimitives.ReadUInt64LittleEndian(value[8..]));

    private static string Errno(int rc) => $"errno {(rc < 0 ? -rc : Marshal.GetLastPInvokeError())}";

    private unsafe bool TryTake(int mapFd, ReadOnlySpan<byte> key, out ConnectFacts facts)
    {
        Span<byte> value = stackalloc byte[FactsSize];
        int rc;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_object == 0, this);
            fixed (byte* k = key)
            fixed (byte* v = value)
            {
                rc = LibBpf.MapLookupAndDelete(mapFd, k, v);
            }
        }

        facts = rc == 0 ? Parse(value) : default;
        return rc == 0;
    }

    private void LoadObject(string objectPath)
    {
        try
        {
            // libbpf's default printer writes to stderr; the agent reports failures itself.
            _ = LibBpf.SetPrint(0);
            _object = LibBpf.ObjectOpenFile(objectPath, 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new KernelAttributionException("libbpf.so.1 is not installed (Debian package libbpf1)", e);
        }

        if (_object == 0)
        {
            throw new KernelAttributionException($"libbpf cannot open {objectPath} ({Errno(0)})");
        }

        // libbpf 1.1 has no section name for connect_unix: state its type and attach type here.
        var unix = Program("record_connect_unix");
        _ = LibBpf.ProgramSetType(unix, LibBpf.ProgTypeCgroupSockAddr);
        _ = LibBpf.ProgramSetExpectedAttachType(unix, LibBpf.AttachCgroupUnixConnect);

        var rc = LibBpf.ObjectLoad(_object);
        if (rc != 0)
        {
            throw new KernelAttributionException($"the kernel refused the attribution programs ({Errno(rc)})");
        }

        _tcpFacts = MapFd("tcp_facts");
        _unixFacts = MapFd("unix_facts");
        _lastExec = MapFd("last_exec");
        _exited = MapFd("exited");
    }

    private void AttachTo(string cgroup)
    {
        using SafeFileHandle directory = OpenCgroup(cgroup);
        foreach (var (name, kind) in CgroupPrograms)
        {
            var link = LibBpf.ProgramAttachCgroup(Program(name), (int)directory.DangerousGetHandle());
            if (link == 0)
            {
                throw new KernelAttributionException($"cannot attach {kind} to {cgroup} ({Errno(0)})");
            }

            _links.Add(link);
        }
    }

    private void AttachExecTracepoint()
    {
        foreach (var (name, kind) in (ReadOnlySpan<(string, string)>)[("note_exec", "sched_process_exec"), ("note_exit", "sched_process_exit")])
        {
            var link = LibBpf.ProgramAttach(Program(name));
            if (link == 0)
            {
                throw new KernelAttributionException($"cannot attach tp_btf/{kind} ({Errno(0)})");
            }

            _links.Add(link);
        }
    }

    private static SafeFileHandle OpenCgroup(string cgroup)
    {
        try
        {
            return LinuxNative.OpenDirectory(cgroup);
        }
        catch (IOException e)
        {
            throw new KernelAttributionException(e.Message, e);
        }
    }

    private nint Program(string name)
    {
        var program = LibBpf.FindProgram(_object, name);
        return program != 0 ? program : throw new KernelAttributionException($"program {name} is missing from the object");
    }

    private int MapFd(string name)
    {
        var fd = LibBpf.FindMapFd(_object, name);
        return fd >= 0 ? fd : throw new KernelAttributionException($"map {name} is missing from the object");
    }
}
