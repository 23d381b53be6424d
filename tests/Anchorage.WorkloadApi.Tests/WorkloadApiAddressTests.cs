using System.Net;

namespace Anchorage.WorkloadApi.Tests;

public sealed class WorkloadApiAddressTests
{
    public static TheoryData<string, string> Invalid => new()
    {
        { "", "workload api address is empty" },
        { "/run/api.sock", "workload api address has no scheme (want unix:///path or tcp://ip:port)" },
        { "http://127.0.0.1:80", "workload api address scheme must be unix or tcp" },
        { "unix:///run/api.sock?x=1", "workload api address must not have a query" },
        { "unix:///run/api.sock#frag", "workload api address must not have a fragment" },
        { "unix://host/run/api.sock", "unix workload api address must not have an authority (want unix:///path)" },
        { "unix://user@/run/api.sock", "unix workload api address must not have an authority (want unix:///path)" },
        { "unix:run/api.sock", "unix workload api address path must be absolute" },
        { "unix://", "unix workload api address path must be absolute" },
        { "tcp://127.0.0.1:8000/foo", "tcp workload api address must not have a path" },
        { "tcp://127.0.0.1:8000?x", "workload api address must not have a query" },
        { "tcp://127.0.0.1:8000#x", "workload api address must not have a fragment" },
        { "tcp://user@127.0.0.1:8000", "tcp workload api address must not have user info" },
        { "tcp://localhost:8000", "tcp workload api address host must be an ip address" },
        { "tcp://127.1:8000", "tcp workload api address host must be an ip address" },
        { "tcp://::1:8000", "tcp workload api address host must be an ip address" },
        { "tcp://127.0.0.1", "tcp workload api address must have a port" },
        { "tcp://127.0.0.1:", "tcp workload api address must have a port" },
        { "tcp://127.0.0.1:0", "tcp workload api address port must be a number from 1 to 65535" },
        { "tcp://127.0.0.1:65536", "tcp workload api address port must be a number from 1 to 65535" },
        { "tcp://127.0.0.1:+80", "tcp workload api address port must be a number from 1 to 65535" },
        { "tcp://", "tcp workload api address must have an ip address and a port" },
        { "tcp:127.0.0.1:8000", "tcp workload api address must have an ip address and a port" },
    };

    [Theory]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 4")]
    [MemberData(nameof(Invalid))]
    public void Parse_AddressBreaksARule_ThrowsNamingIt(string address, string message)
    {
        var ex = Assert.Throws<FormatException>(() => WorkloadApiAddress.Parse(address));
        Assert.Equal(message, ex.Message);
        Assert.False(WorkloadApiAddress.TryParse(address, out _));
    }

    public static TheoryData<string, string> ValidUnix => new()
    {
        { "unix:///run/anchorage/agent/api.sock", "/run/anchorage/agent/api.sock" },
        { "UNIX:///tmp/a.sock", "/tmp/a.sock" },
        { "unix:/tmp/a.sock", "/tmp/a.sock" },
        { "unix:///tmp/with%20space.sock", "/tmp/with space.sock" },
    };

    [Theory]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 4")]
    [MemberData(nameof(ValidUnix))]
    public void Parse_UnixWithAbsolutePath_GivesSocketPath(string address, string path)
    {
        var parsed = WorkloadApiAddress.Parse(address);
        Assert.True(parsed.IsUnix);
        Assert.Equal(path, parsed.SocketPath);
        Assert.Null(parsed.TcpEndPoint);
    }

    public static TheoryData<string, string, int> ValidTcp => new()
    {
        { "tcp://127.0.0.1:8000", "127.0.0.1", 8000 },
        { "tcp://10.0.0.1:65535", "10.0.0.1", 65535 },
        { "tcp://[::1]:8000", "::1", 8000 },
    };

    [Theory]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 4")]
    [MemberData(nameof(ValidTcp))]
    public void Parse_TcpWithIpAndPort_GivesEndPoint(string address, string ip, int port)
    {
        var parsed = WorkloadApiAddress.Parse(address);
        Assert.False(parsed.IsUnix);
        Assert.Equal(new IPEndPoint(IPAddress.Parse(ip), port), parsed.TcpEndPoint);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 4")]
    public void Resolve_NoExplicitAddress_FallsBackToEnvironment()
    {
        var previous = Environment.GetEnvironmentVariable(WorkloadApiAddress.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(WorkloadApiAddress.EnvironmentVariable, "unix:///from/env.sock");
            Assert.Equal("/from/env.sock", WorkloadApiAddress.Resolve().SocketPath);
            Assert.Equal("/explicit.sock", WorkloadApiAddress.Resolve("unix:///explicit.sock").SocketPath);

            Environment.SetEnvironmentVariable(WorkloadApiAddress.EnvironmentVariable, "tcp://localhost:1");
            Assert.Equal("tcp workload api address host must be an ip address", Assert.Throws<FormatException>(() => WorkloadApiAddress.Resolve()).Message);

            Environment.SetEnvironmentVariable(WorkloadApiAddress.EnvironmentVariable, null);
            var ex = Assert.Throws<InvalidOperationException>(() => WorkloadApiAddress.Resolve());
            Assert.Equal("no workload api address: configure one or set SPIFFE_ENDPOINT_SOCKET", ex.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(WorkloadApiAddress.EnvironmentVariable, previous);
        }
    }
}
