using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Anchorage.Agent.Config;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel.Internal;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Kernel;

/// <summary>
/// The transparent-interception programs (Bpf/transparent.bpf.c): attached to the enrolled
/// cgroups, they rewrite a <c>connect()</c> (IPv4, or IPv6 from an <c>AF_INET6</c> socket, which
/// is sent to the listener's IPv4-mapped address) to a configured destination into a connect to the
/// gate's listener and keep the original destination, which the gate takes once per accepted
/// connection by the client's address and port.
/// </summary>
/// <remarks>
/// <para>
/// Fail modes. <see cref="TransparentFailMode.Open"/>: the programs are attached with links owned
/// by the agent's process only, so they detach when it ends, however it ends (kill -9 included),
/// and traffic then flows unintercepted. <see cref="TransparentFailMode.Closed"/>: the links are
/// also pinned in bpffs, so they stay attached while the agent is down; intercepted connections
/// are then redirected to a listener nobody serves and refused. A new agent attaches its own
/// links first, then replaces the old pins, so there is no moment without interception; an agent
/// started in open mode removes the pins a closed-mode one left, once its own links are attached.
/// </para>
/// <para>
/// The agent's own sockets are never redirected: its process id is in the programs' exempt map.
/// </para>
/// </remarks>
public sealed class TransparentRedirect : IDisposable
{
    /// <summary>The object file's name under <c>bpf/</c> next to the agent's assembly.</summary>
    public const string ObjectFileName = "transparent.bpf.o";

    private const int MaxRules = 64;

    private static readonly (string Program, string Kind)[] CgroupPrograms =
    [
        ("redirect_connect4", "connect4"),
        ("redirect_connect6", "connect6"),
        ("carry_original", "sockops"),
    ];

    private readonly Lock _gate = new();
    private readonly List<nint> _links = [];
    private readonly IReadOnlyList<GateTransparentDestination> _destinations;
    private nint _object;
    private int _originals = -1;
    private int _originals6 = -1;

    private TransparentRedirect(IReadOnlyList<GateTransparentDestination> destinations) => _destinations = destinations;

    /// <summary>Where the agent looks for the object by default: <c>bpf/transparent.bpf.o</c> beside its assembly.</summary>
    public static string DefaultObjectPath => Path.Combine(AppContext.BaseDirectory, "bpf", ObjectFileName);

    /// <summary>
    /// Loads the programs, points them at <paramref name="listener"/> and attaches them to the
    /// cgroups of <paramref name="options"/> (pinned under <see cref="GateTransparentOptions.PinDirectory"/>
    /// in closed mode); process <paramref name="exemptProcessId"/> (the agent) is never redirected.
    /// With <paramref name="listen6"/> the gate also listens on <c>[::1]</c> at the listener's port,
    /// and IPv6 destinations are redirected there (reachable from IPV6_V6ONLY sockets).
    /// </summary>
    /// <exception cref="KernelAttributionException">The programs cannot be loaded or attached; the message says why.</exception>
    public static TransparentRedirect Load(string objectPath, GateTransparentOptions options, IPEndPoint listener, bool listen6, int exemptProcessId)
    {
        ArgumentNullException.ThrowIfNull(objectPath);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(listener);
        if (listener.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new KernelAttributionException($"the transparent listener {listener} must be an IPv4 address");
        }

        if (options.Destinations.Count is 0 or > MaxRules)
        {
            throw new KernelAttributionException($"gate.transparent needs 1 to {MaxRules} destinations");
        }

        IReadOnlyList<string> cgroups = options.AllCgroups ? [CgroupRoot()] : options.Cgroups;
        if (cgroups.Count == 0)
        {
            throw new KernelAttributionException("no cgroups are configured to intercept");
        }

        if (!options.AllCgroups)
        {
            foreach (var cgroup in cgroups)
            {
                KernelAttribution.CheckCgroup(cgroup);
            }
        }

        if (!File.Exists(objectPath))
        {
            throw new KernelAttributionException($"{objectPath} is missing (the agent was built without clang or bpftool)");
        }

        var redirect = new TransparentRedirect(options.Destinations);
        try
        {
            redirect.LoadObject(objectPath, options.Destinations, listener, listen6, exemptProcessId);
            var links = new List<(nint Link, string Pin)>();
            foreach (var cgroup in cgroups)
            {
                redirect.AttachTo(cgroup, links);
            }

            if (options.FailMode == TransparentFailMode.Closed)
            {
                Pin(options.PinDirectory, links);
            }
            else
            {
                // A switch from closed to open: the pins a closed-mode agent left would keep
                // intercepting (and refusing) after this agent ends. Removed once ours are attached.
                RemovePins(options.PinDirectory);
            }
        }
        catch
        {
            redirect.Dispose();
            throw;
        }

        return redirect;
    }

    /// <summary>Removes the pinned programs of a closed-mode configuration (they detach once no agent holds them).</summary>
    public static void Unpin(string pinDirectory)
    {
        ArgumentNullException.ThrowIfNull(pinDirectory);
        if (Directory.Exists(pinDirectory))
        {
            foreach (var file in Directory.GetFiles(pinDirectory))
            {
                File.Delete(file);
            }

            Directory.Delete(pinDirectory);
        }
    }

    /// <summary>
    /// Takes (reads and deletes) the original destination of the redirected connection from
    /// <paramref name="client"/> and the destination entry it matched.
    /// </summary>
    public unsafe bool TryTakeOriginal(IPEndPoint client, out IPEndPoint original, out GateTransparentDestination destination)
    {
        ArgumentNullException.ThrowIfNull(client);
        original = null!;
        destination = null!;
        // IPv4 and v4-mapped clients are keyed (IPv4 address, port), IPv6 ones (IPv6 address, port).
        var address = client.Address.IsIPv4MappedToIPv6 ? client.Address.MapToIPv4() : client.Address;
        var v4 = address.AddressFamily == AddressFamily.InterNetwork;
        Span<byte> key = stackalloc byte[20];
        key = key[..(v4 ? 8 : 20)];
        _ = address.TryWriteBytes(key[..^4], out _);
        BinaryPrimitives.WriteUInt32LittleEndian(key[^4..], (uint)client.Port);
        Span<byte> value = stackalloc byte[20];
        int rc;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_object == 0, this);
            fixed (byte* k = key)
            fixed (byte* v = value)
            {
                rc = LibBpf.MapLookupAndDelete(v4 ? _originals : _originals6, k, v);
            }
        }

        var rule = BinaryPrimitives.ReadUInt16LittleEndian(value[18..]);
        if (rc != 0 || rule >= _destinations.Count)
        {
            return false;
        }

        // IPv4 originals are kept IPv4-mapped.
        var ip = new IPAddress(value[..16]);
        original = new IPEndPoint(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip, BinaryPrimitives.ReadUInt16LittleEndian(value[16..]));
        destination = _destinations[rule];
        return true;
    }

    /// <summary>Drops the agent's hold on the programs: open mode detaches them; closed mode leaves the pinned ones attached.</summary>
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

    private static void RemovePins(string directory)
    {
        try
        {
            Unpin(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelAttributionException($"cannot remove the closed-mode pins in {directory}: {e.Message}", e);
        }
    }

    // cgroups: all = the root of the cgroup v2 hierarchy (hybrid layout: /sys/fs/cgroup/unified).
    private static string CgroupRoot() =>
        File.Exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";

    private static string Errno(int rc) => $"errno {(rc < 0 ? -rc : Marshal.GetLastPInvokeError())}";

    // Attach first, then swap the pins: the old agent's links (if any) hold until the new ones are in place.
    private static void Pin(string directory, List<(nint Link, string Pin)> links)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelAttributionException($"cannot create the pin directory {directory} (is bpffs mounted at /sys/fs/bpf?): {e.Message}", e);
        }

        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (link, pin) in links)
        {
            var path = Path.Combine(directory, pin);
            keep.Add(path);
            File.Delete(path);
            var rc = LibBpf.LinkPin(link, path);
            if (rc != 0)
            {
                throw new KernelAttributionException($"cannot pin {path} ({Errno(rc)})");
            }
        }

        foreach (var old in Directory.GetFiles(directory))
        {
            if (!keep.Contains(old))
            {
                File.Delete(old);
            }
        }
    }

    private unsafe void LoadObject(string objectPath, IReadOnlyList<GateTransparentDestination> destinations, IPEndPoint listener, bool listen6, int exemptProcessId)
    {
        try
        {
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

        var rc = LibBpf.ObjectLoad(_object);
        if (rc != 0)
        {
            throw new KernelAttributionException($"the kernel refused the transparent-interception programs ({Errno(rc)})");
        }

        _originals = MapFd("original_by_client");
        _originals6 = MapFd("original_by_client6");
        // IPv4 and IPv6 destinations go to their own rule arrays; each rule names its destination's index.
        var rules4 = MapFd("rules4");
        var rules6 = MapFd("rules6");
        uint count4 = 0, count6 = 0;
        Span<byte> rule = stackalloc byte[40];
        for (var i = 0; i < destinations.Count; i++)
        {
            var network = destinations[i].Network;
            var v4 = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
            var size = v4 ? 4 : 16;
            var entry = rule[..(2 * size + 8)];
            entry.Clear();
            _ = network.BaseAddress.TryWriteBytes(entry[..size], out _);
            for (var bit = 0; bit < network.PrefixLength; bit++)
            {
                entry[size + (bit / 8)] |= (byte)(0x80 >> (bit % 8));
            }

            BinaryPrimitives.WriteUInt16LittleEndian(entry[(2 * size)..], (ushort)destinations[i].PortLow);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[(2 * size + 2)..], (ushort)destinations[i].PortHigh);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[(2 * size + 4)..], (uint)i);
            var key = v4 ? count4++ : count6++;
            Update(v4 ? rules4 : rules6, &key, entry, v4 ? "rules4" : "rules6");
        }

        // The agent's pid with its start time: a process that later gets the pid is not exempt.
        var exempt = MapFd("exempt");
        var pid = (uint)exemptProcessId;
        var started = ProcFs.TryReadStartTime(exemptProcessId) ?? throw new KernelAttributionException($"cannot read the start time of process {exemptProcessId}");
        if (LibBpf.MapUpdate(exempt, &pid, &started, 0) != 0)
        {
            throw new KernelAttributionException($"cannot write the exempt map ({Errno(0)})");
        }

        // Written last: a settings entry with port 0 redirects nothing.
        Span<byte> settings = stackalloc byte[20];
        settings.Clear();
        _ = listener.Address.TryWriteBytes(settings[..4], out _);
        BinaryPrimitives.WriteUInt16BigEndian(settings[4..], (ushort)listener.Port);
        BinaryPrimitives.WriteUInt32LittleEndian(settings[8..], count4);
        BinaryPrimitives.WriteUInt32LittleEndian(settings[12..], count6);
        BinaryPrimitives.WriteUInt32LittleEndian(settings[16..], listen6 ? 1u : 0u);
        var zero = 0u;
        Update(MapFd("settings"), &zero, settings, "settings");
    }

    private static unsafe void Update(int fd, uint* key, ReadOnlySpan<byte> value, string name)
    {
        fixed (byte* v = value)
        {
            if (LibBpf.MapUpdate(fd, key, v, 0) != 0)
            {
                throw new KernelAttributionException($"cannot write the {name} map ({Errno(0)})");
            }
        }
    }

    private void AttachTo(string cgroup, List<(nint Link, string Pin)> links)
    {
        using SafeFileHandle directory = OpenCgroup(cgroup);
        var tag = cgroup.Trim('/').Replace('/', '_').Replace('.', '_');
        foreach (var (name, kind) in CgroupPrograms)
        {
            var link = LibBpf.ProgramAttachCgroup(Program(name), (int)directory.DangerousGetHandle());
            if (link == 0)
            {
                throw new KernelAttributionException($"cannot attach {kind} to {cgroup} ({Errno(0)})");
            }

            _links.Add(link);
            links.Add((link, tag + "__" + kind)); // bpffs refuses '.' in names
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
