using System.Net.Sockets;
using Anchorage.Cli.Internal;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Testing;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Internal;

public sealed class AdminConnectionTests : AdminTestBase
{
    public static TheoryData<StatusCode> Rejections => new()
    {
        StatusCode.InvalidArgument,
        StatusCode.NotFound,
        StatusCode.AlreadyExists,
        StatusCode.FailedPrecondition,
        StatusCode.PermissionDenied,
        StatusCode.ResourceExhausted,
    };

    public static TheoryData<StatusCode, string> Failures => new()
    {
        { StatusCode.Internal, "internal" },
        { StatusCode.Unknown, "unknown" },
        { StatusCode.DeadlineExceeded, "deadline exceeded" },
        { StatusCode.Unimplemented, "unimplemented" },
        { StatusCode.Unauthenticated, "unauthenticated" },
        { StatusCode.Aborted, "aborted" },
        { StatusCode.DataLoss, "data loss" },
        { StatusCode.OutOfRange, "out of range" },
        { StatusCode.Cancelled, "cancelled" },
        // Sent by the server itself (it was reached), so not "cannot reach".
        { StatusCode.Unavailable, "unavailable" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public async Task Call_RejectionStatus_ExitsOneWithTheServersDetail(StatusCode code)
    {
        Api.Fail("CountEntries", code, "entry \"e1\" is not here");

        var result = await RunAsync("entry", "count");

        Assert.Equal((1, string.Empty, "error: entry \"e1\" is not here\n"), (result.ExitCode, result.Out, result.Error));
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Call_OtherStatus_ExitsTwoNamingTheCode(StatusCode code, string words)
    {
        Api.Fail("CountEntries", code, "datastore is on fire");

        var result = await RunAsync("entry", "count");

        Assert.Equal((2, string.Empty, $"error: {words}: datastore is on fire\n"), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Call_Success_ExitsZero()
    {
        Api.On("CountEntries", (CountEntriesRequest _) => new CountEntriesResponse { Count = 3 });

        var result = await RunAsync("entry", "count");

        Assert.Equal((0, "3\n", string.Empty), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Call_Always_CarriesAThirtySecondDeadline()
    {
        Api.On("CountEntries", (CountEntriesRequest _) => new CountEntriesResponse());
        var before = DateTime.UtcNow;

        await RunAsync("entry", "count");

        var deadline = Assert.Single(Api.Calls).Deadline;
        Assert.InRange(deadline, before.AddSeconds(25), DateTime.UtcNow.AddSeconds(31));
    }

    [Fact]
    public async Task Call_NoSocketFile_ExitsTwoCannotReach()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "admin.sock");

        var result = await CliRunner.RunAsync(TimeProvider.System, "entry", "count", "--socket", path);

        Assert.Equal((2, string.Empty, $"error: cannot reach the server admin socket {path}: no such socket file\n"), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Call_NobodyListening_ExitsTwoConnectionRefused()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "admin.sock");
        // Bound but never listening: the file exists and connecting is refused. (Kept open:
        // .NET removes the file when a socket it bound is disposed.)
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));

        var result = await CliRunner.RunAsync(TimeProvider.System, "entry", "count", "--socket", path);

        Assert.Equal((2, string.Empty, $"error: cannot reach the server admin socket {path}: connection refused\n"), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public void ResolveSocketPath_OptionGiven_WinsOverEnvironment() =>
        Assert.Equal("/run/a.sock", AdminConnection.ResolveSocketPath("/run/a.sock", _ => "/run/env.sock"));

    [Fact]
    public void ResolveSocketPath_NoOption_UsesEnvironment() =>
        Assert.Equal("/run/env.sock", AdminConnection.ResolveSocketPath(null, name => name == "ANCHORAGE_ADMIN_SOCKET" ? "/run/env.sock" : null));

    [Fact]
    public void ResolveSocketPath_NeitherGiven_UsesDefault() =>
        Assert.Equal("/var/lib/anchorage/server/admin.sock", AdminConnection.ResolveSocketPath(null, _ => null));

    [Fact]
    public async Task Call_NoOptionEnvironmentSet_DialsTheEnvironmentsSocket()
    {
        // Only this test runs a verb without --socket, so setting the variable races nothing.
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "env-admin.sock");
        Environment.SetEnvironmentVariable("ANCHORAGE_ADMIN_SOCKET", path);
        try
        {
            var result = await CliRunner.RunAsync(TimeProvider.System, "entry", "count");

            Assert.Equal((2, $"error: cannot reach the server admin socket {path}: no such socket file\n"), (result.ExitCode, result.Error));
        }
        finally
        {
            Environment.SetEnvironmentVariable("ANCHORAGE_ADMIN_SOCKET", null);
        }
    }
}
