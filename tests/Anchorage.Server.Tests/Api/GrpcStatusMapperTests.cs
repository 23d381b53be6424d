using Anchorage.Server.Api;
using Anchorage.Server.Attestation;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Server.Tests.Hosting;
using Anchorage.Spiffe;
using Anchorage.Testing.Logging;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Tests.Api;

public sealed class GrpcStatusMapperTests : IDisposable
{
    private readonly LogCapture _log = new();
    private readonly ILogger _logger;

    public GrpcStatusMapperTests()
    {
        _logger = _log.Factory.CreateLogger("Anchorage.Server.Api");
    }

    public static TheoryData<Exception, StatusCode, string> Mappings => new()
    {
        { new FormatException("csr is not valid DER"), StatusCode.InvalidArgument, "csr is not valid DER" },
        { new ArgumentException("dns name \"a b\" is not valid", "dnsNames"), StatusCode.InvalidArgument, "dns name \"a b\" is not valid" },
        { new ArgumentOutOfRangeException("ttl", TimeSpan.FromDays(3), "join token ttl must be between 1 second and 24 hours"), StatusCode.InvalidArgument, "join token ttl must be between 1 second and 24 hours" },
        { new EntryValidationException(["spiffeId: is required"]), StatusCode.InvalidArgument, "invalid registration entry: spiffeId: is required" },
        { new SvidValidationException("leaf certificate must not be a CA"), StatusCode.InvalidArgument, "leaf certificate must not be a CA" },
        { new EntryConflictException("an entry with id \"x\" exists", "x", null), StatusCode.AlreadyExists, "an entry with id \"x\" exists" },
        { new DataStoreConflictException("node \"spiffe://a/b\" already exists"), StatusCode.AlreadyExists, "node \"spiffe://a/b\" already exists" },
        { new EntryNotFoundException("x", null), StatusCode.NotFound, "entry \"x\" not found" },
        { new AttestationException(AttestationFailure.Banned, "agent spiffe://a/b is banned"), StatusCode.PermissionDenied, "agent spiffe://a/b is banned" },
        { new DataStoreUnavailableException("datastore list entries failed: connection refused to db.internal:5432"), StatusCode.Unavailable, "datastore is unavailable" },
        { new OperationCanceledException(), StatusCode.Cancelled, "call cancelled" },
        { new InvalidOperationException("dictionary corrupted at 0x7f00"), StatusCode.Internal, "internal error" },
        { new KeyNotFoundException("key x509-1234 missing from /var/lib/anchorage"), StatusCode.Internal, "internal error" },
    };

    public void Dispose() => _log.Dispose();

    [Theory]
    [MemberData(nameof(Mappings))]
    public void ToStatus_Exception_CodeAndDetail(Exception exception, StatusCode code, string detail)
    {
        var status = GrpcStatusMapper.ToStatus(exception, _logger, "/m");

        Assert.Equal(code, status.StatusCode);
        Assert.Equal(detail, status.Detail);
    }

    [Fact]
    public void ToStatus_Unknown_LogsTheExceptionButDoesNotReturnIt()
    {
        var status = GrpcStatusMapper.ToStatus(new InvalidOperationException("secret internals"), _logger, "/anchorage.admin.v1.AdminApi/GetEntry");

        Assert.Equal("internal error", status.Detail);
        Assert.Contains((3400, LogLevel.Error, "/anchorage.admin.v1.AdminApi/GetEntry failed with an internal error"), _log.Events);
    }

    [Fact]
    public void ToStatus_DataStoreUnavailable_LogsTheReason()
    {
        GrpcStatusMapper.ToStatus(new DataStoreUnavailableException("datastore count entries failed: disk I/O error"), _logger, "/m");

        Assert.Contains((3401, LogLevel.Warning, "/m failed: datastore count entries failed: disk I/O error"), _log.Events);
    }

    [Fact]
    public void ToRpcException_KnownError_NoRetryTrailer()
    {
        var e = GrpcStatusMapper.ToRpcException(new FormatException("csr is not valid DER"), _logger, "/m");

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Null(e.Trailers.Get(GrpcStatusMapper.RetryAfterMetadataKey));
    }
}
