using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Anchorage.Agent.Config;
using Anchorage.Agent.Kernel.Internal;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Kernel;

/// <summary>
/// The inbound steering program (Bpf/steering.bpf.c): attached to the agent's network namespace
/// (<c>sk_lookup</c>), it hands TCP connections arriving for the steered service ports to the
/// gate's steering listener instead of the service's socket, so the service keeps its port. The
/// gate's own connections to the service are let through by their source address and port
/// (<see cref="ConnectAsync"/>).
/// </summary>
/// <remarks>
/// Fail modes as for <see cref="TransparentRedirect"/>: <see cref="TransparentFailMode.Open"/>, the
/// link belongs to the agent's process and detaches when it ends, and the service is reached
/// directly; <see cref="TransparentFailMode.Closed"/>, the link is also pinned and, with no gate
/// socket left in its map (the kernel removes a closed socket), the program drops the lookup: the
/// connection is refused, never delivered to the service unverified.
/// </remarks>
public sealed class InboundSteering : IDisposable
{
    /// <summary>The object file's name under <c>bpf/</c> next to the agent's assembly.</summary>
    public const string ObjectFileName = "steering.bpf.o";

    /// <summary>The pin's file name in <see cref="PinDirectoryOf"/>.</summary>
    public const string PinName = "netns__sk_lookup";

    private const int MaxPorts = 64;

    private readonly Lock _gate = new();
    private nint _object;
    private nint _link;
    private int _forwarding = -1;

    private InboundSteering()
    {
    }

    /// <summary>Where the agent looks for the object by default: <c>bpf/steering.bpf.o</c> beside its assembly.</summary>
    public static string DefaultObjectPath => Path.Combine(AppContext.BaseDirectory, "bpf", ObjectFileName);

    /// <summary>
    /// The bpffs directory of the closed-mode pin: beside the outbound pins (<c>PINDIR-inbound</c>),
    /// whose directory the outbound loader keeps to its own files.
    /// </summary>
    public static string PinDirectoryOf(string pinDirectory) => Path.TrimEndingDirectorySeparator(pinDirectory) + "-inbound";

    /// <summary>
    /// Loads the program, steers <paramref name="inbound"/>'s ports to <paramref name="listener"/>
    /// (a listening IPv4 TCP socket of the gate) for IPv4 connections and to
    /// <paramref name="listener6"/> (IPv6, none on a host without IPv6 loopback) for IPv6 ones,
    /// and attaches it to the network namespace of <paramref name="netnsPath"/> (the agent's own:
    /// <c>/proc/self/ns/net</c>).
    /// </summary>
    /// <exception cref="KernelAttributionException">The program cannot be loaded or attached; the message says why.</exception>
    public static InboundSteering Load(
        string objectPath, IReadOnlyList<GateTransparentInbound> inbound, Socket listener, Socket? listener6, TransparentFailMode failMode, string pinDirectory, string netnsPath = "/proc/self/ns/net")
    {
        ArgumentNullException.ThrowIfNull(objectPath);
        ArgumentNullException.ThrowIfNull(inbound);
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(pinDirectory);
        if (inbound.Count is 0 or > MaxPorts)
        {
            throw new KernelAttributionException($"gate.transparent.inbound needs 1 to {MaxPorts} ports");
        }

        if (listener.AddressFamily != AddressFamily.InterNetwork || listener6 is { AddressFamily: not AddressFamily.InterNetworkV6 })
        {
            throw new KernelAttributionException("the steering listeners must be an IPv4 and an IPv6 socket");
        }

        if (!File.Exists(objectPath))
        {
            throw new KernelAttributionException($"{objectPath} is missing (the agent was built without clang or bpftool)");
        }

        var steering = new InboundSteering();
        try
        {
            steering.LoadObject(objectPath, inbound, listener, listener6, failMode);
            steering.Attach(netnsPath);
            var pins = PinDirectoryOf(pinDirectory);
            if (failMode == TransparentFailMode.Closed)
            {
                steering.Pin(pins);
            }
            else
            {
                // A switch from closed: the old pin would keep dropping steered connections after this agent ends.
                Unpin(pinDirectory);
            }
        }
        catch
        {
            steering.Dispose();
            throw;
        }

        return steering;
    }

    /// <summary>Removes the pinned program of a closed-mode configuration (it detaches once no agent holds it).</summary>
    /// <exception cref="KernelAttributionException">The pin cannot be removed.</exception>
    public static void Unpin(string pinDirectory)
    {
        ArgumentNullException.ThrowIfNull(pinDirectory);
        var directory = PinDirectoryOf(pinDirectory);
        try
        {
            if (Directory.Exists(directory))
            {
                foreach (var file in Directory.GetFiles(directory))
                {
                    File.Delete(file);
                }

                Directory.Delete(directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelAttributionException($"cannot remove the closed-mode pin in {directory}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Connects to the service at <paramref name="forward"/> from a socket the program lets through:
    /// it is bound first (to the forward address, a loopback address) and its source address
    /// (IPv4 as IPv4-mapped IPv6) and port are in the program's <c>forwarding</c> map until the
    /// connect has completed.
    /// </summary>
    /// <exception cref="SocketException">The connect failed.</exception>
    public async Task<Socket> ConnectAsync(IPEndPoint forward, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(forward);
        var socket = new Socket(forward.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var key = new byte[20];
        var added = false;
        try
        {
            socket.Bind(new IPEndPoint(forward.Address, 0));
            var local = (IPEndPoint)socket.LocalEndPoint!;
            _ = local.Address.MapToIPv6().TryWriteBytes(key.AsSpan(0, 16), out _);
            BinaryPrimitives.WriteUInt32LittleEndian(key.AsSpan(16), (uint)local.Port);
            added = Forwarding(key, add: true);
            if (!added)
            {
                throw new SocketException((int)SocketError.AccessDenied);
            }

            // The lookup runs for the SYN only; once established, the connection is found directly.
            await socket.ConnectAsync(forward, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            if (added)
            {
                _ = Forwarding(key, add: false);
            }
        }
    }

    /// <summary>Drops the agent's hold on the program: open mode detaches it; closed mode leaves the pinned one attached.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_link != 0)
            {
                _ = LibBpf.LinkDestroy(_link);
                _link = 0;
            }

            if (_object != 0)
            {
                LibBpf.ObjectClose(_object);
                _object = 0;
            }
        }
    }

    private static string Errno(int rc) => $"errno {(rc < 0 ? -rc : Marshal.GetLastPInvokeError())}";

    private unsafe bool Forwarding(byte[] key, bool add)
    {
        byte one = 1;
        lock (_gate)
        {
            if (_object == 0)
            {
                return false;
            }

            fixed (byte* k = key)
            {
                return (add ? LibBpf.MapUpdate(_forwarding, k, &one, 0) : LibBpf.MapDelete(_forwarding, k)) == 0;
            }
        }
    }

    private unsafe void LoadObject(string objectPath, IReadOnlyList<GateTransparentInbound> inbound, Socket listener, Socket? listener6, TransparentFailMode failMode)
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
            throw new KernelAttributionException($"the kernel refused the inbound steering program ({Errno(rc)})");
        }

        _forwarding = MapFd("forwarding");
        var ports = MapFd("ports");
        for (var i = 0; i < inbound.Count; i++)
        {
            var port = (uint)inbound[i].Port;
            var index = (uint)i;
            if (LibBpf.MapUpdate(ports, &port, &index, 0) != 0)
            {
                throw new KernelAttributionException($"cannot write the ports map ({Errno(0)})");
            }
        }

        var zero = 0u;
        uint* settings = stackalloc uint[] { failMode == TransparentFailMode.Closed ? 1u : 0u, 0u };
        if (LibBpf.MapUpdate(MapFd("settings"), &zero, settings, 0) != 0)
        {
            throw new KernelAttributionException($"cannot write the settings map ({Errno(0)})");
        }

        // A sockmap takes the socket by its descriptor; the kernel drops the entry when the socket
        // closes. Slot 0 takes IPv4 lookups, slot 1 IPv6 ones.
        var listeners = MapFd("gate_listener");
        var fd = (ulong)listener.SafeHandle.DangerousGetHandle();
        if (LibBpf.MapUpdate(listeners, &zero, &fd, 0) != 0)
        {
            throw new KernelAttributionException($"cannot put the steering listener in the gate_listener sockmap ({Errno(0)})");
        }

        if (listener6 is not null)
        {
            var one = 1u;
            var fd6 = (ulong)listener6.SafeHandle.DangerousGetHandle();
            if (LibBpf.MapUpdate(listeners, &one, &fd6, 0) != 0)
            {
                throw new KernelAttributionException($"cannot put the IPv6 steering listener in the gate_listener sockmap ({Errno(0)})");
            }
        }
    }

    private void Attach(string netnsPath)
    {
        SafeFileHandle netns;
        try
        {
            netns = File.OpenHandle(netnsPath, FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelAttributionException($"cannot open the network namespace {netnsPath}: {e.Message}", e);
        }

        using (netns)
        {
            var program = LibBpf.FindProgram(_object, "steer_inbound");
            if (program == 0)
            {
                throw new KernelAttributionException("program steer_inbound is missing from the object");
            }

            _link = LibBpf.ProgramAttachNetns(program, (int)netns.DangerousGetHandle());
            if (_link == 0)
            {
                throw new KernelAttributionException($"cannot attach sk_lookup to the network namespace {netnsPath} ({Errno(0)})");
            }
        }
    }

    // The new link is attached before the old pin is replaced: steering never lapses.
    private void Pin(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, PinName);
            File.Delete(path);
            var rc = LibBpf.LinkPin(_link, path);
            if (rc != 0)
            {
                throw new KernelAttributionException($"cannot pin {path} ({Errno(rc)})");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelAttributionException($"cannot pin in {directory} (is bpffs mounted at /sys/fs/bpf?): {e.Message}", e);
        }
    }

    private int MapFd(string name)
    {
        var fd = LibBpf.FindMapFd(_object, name);
        return fd >= 0 ? fd : throw new KernelAttributionException($"map {name} is missing from the object");
    }
}
