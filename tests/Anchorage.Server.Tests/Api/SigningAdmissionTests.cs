using System.Collections.Immutable;
using System.Runtime.Versioning;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Ids;
using Grpc.Core;

namespace Anchorage.Server.Tests.Api;

[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class SigningAdmissionTests
{
    [Fact]
    public async Task BatchNewX509Svid_LimitOneAndASigningInFlight_UnavailableWithRetryAfterThenServed()
    {
        var gated = (GatedCertificateAuthority?)null;
        await using var server = await ApiTestServer.StartAsync(
            new ApiOptions { MaxConcurrentSigning = 1, SigningRetryAfter = TimeSpan.FromMilliseconds(50) }, ca => gated = new GatedCertificateAuthority(ca));
        var svid = await server.AttestAsync();
        var entry = (await server.Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { AdminApiServiceTests.Entry("/web", svid.Id.Path) } })).Results[0].Entry;
        var request = new BatchNewX509SvidRequest { Params = { new NewX509SvidParams { EntryId = entry.Id, Csr = ApiTestServer.NewCsr() } } };
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gated!.SignGate = () =>
        {
            entered.TrySetResult();
            return release.Task;
        };
        var agent = server.Agent(svid);

        var holder = agent.BatchNewX509SvidAsync(request).ResponseAsync;
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var busy = await Assert.ThrowsAsync<RpcException>(() => agent.BatchNewX509SvidAsync(request).ResponseAsync);
        var busyJwt = await Assert.ThrowsAsync<RpcException>(() => agent.NewJwtSvidAsync(new NewJwtSvidRequest { EntryId = entry.Id, Audience = { "a" } }).ResponseAsync);
        release.SetResult();
        var held = await holder;
        gated!.SignGate = null;
        var after = await agent.BatchNewX509SvidAsync(request);

        Assert.Equal(StatusCode.Unavailable, busy.StatusCode);
        var retryAfter = int.Parse(busy.Trailers.GetValue("retry-after-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 50, 100);
        Assert.Equal($"server is busy signing; retry after {retryAfter} ms", busy.Status.Detail);
        Assert.Equal(StatusCode.Unavailable, busyJwt.StatusCode);
        Assert.NotNull(busyJwt.Trailers.GetValue("retry-after-ms"));
        Assert.Equal(0, held.Results[0].ErrorCode);
        Assert.Equal(0, after.Results[0].ErrorCode);
    }

    [Fact]
    public async Task AttestJoinToken_Busy_UnavailableAndTheTokenIsNotConsumed()
    {
        var gated = (GatedCertificateAuthority?)null;
        await using var server = await ApiTestServer.StartAsync(new ApiOptions { MaxConcurrentSigning = 1 }, ca => gated = new GatedCertificateAuthority(ca));
        var token = await server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var other = await server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gated!.SignGate = () =>
        {
            entered.TrySetResult();
            return release.Task;
        };

        var holder = server.RedeemAsync(other.Token);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var busy = await Assert.ThrowsAsync<RpcException>(() => server.RedeemAsync(token.Token));
        release.SetResult();
        await holder;
        gated!.SignGate = null;
        var svid = await server.RedeemAsync(token.Token);

        Assert.Equal(StatusCode.Unavailable, busy.StatusCode);
        Assert.StartsWith("server is busy signing; retry after ", busy.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(token.AgentSpiffeId, svid.Id.ToString());
    }

    [Fact]
    public async Task AttestJoinToken_BusyAndAnUnparsableCsr_UnavailableBeforeTheCsrIsRead()
    {
        var gated = (GatedCertificateAuthority?)null;
        await using var server = await ApiTestServer.StartAsync(new ApiOptions { MaxConcurrentSigning = 1 }, ca => gated = new GatedCertificateAuthority(ca));
        var holding = await server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gated!.SignGate = () =>
        {
            entered.TrySetResult();
            return release.Task;
        };
        var garbage = new AttestJoinTokenRequest { Token = "no-such-token", Csr = Google.Protobuf.ByteString.CopyFromUtf8("not a csr") };

        var holder = server.RedeemAsync(holding.Token);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var busy = await Assert.ThrowsAsync<RpcException>(() => server.Agent().AttestJoinTokenAsync(garbage).ResponseAsync);
        release.SetResult();
        await holder;
        var parsed = await Assert.ThrowsAsync<RpcException>(() => server.Agent().AttestJoinTokenAsync(garbage).ResponseAsync);

        // While every slot is taken the CSR is not even parsed; with a free slot the same request is judged on its CSR.
        Assert.Equal(StatusCode.Unavailable, busy.StatusCode);
        Assert.StartsWith("server is busy signing; retry after ", busy.Status.Detail, StringComparison.Ordinal);
        Assert.Equal((StatusCode.InvalidArgument, "csr is not valid DER"), (parsed.StatusCode, parsed.Status.Detail));
    }

    // The real CA, with every X.509 signing call held at a gate: the only way to keep a signing slot
    // busy for as long as a test needs, since real signing takes microseconds.
    private sealed class GatedCertificateAuthority(ICertificateAuthority inner) : ICertificateAuthority
    {
        public Func<Task>? SignGate { get; set; }

        public TrustDomain TrustDomain => inner.TrustDomain;

        public async Task<IssuedX509Svid> SignX509SvidAsync(SpiffeId id, ReadOnlyMemory<byte> csr, IReadOnlyList<string> dnsNames, TimeSpan? ttl, CancellationToken cancellationToken)
        {
            if (SignGate is { } gate)
            {
                await gate();
            }

            return await inner.SignX509SvidAsync(id, csr, dnsNames, ttl, cancellationToken);
        }

        public Task<IssuedJwtSvid> MintJwtSvidAsync(SpiffeId id, IReadOnlyList<string> audience, TimeSpan? ttl, CancellationToken cancellationToken) =>
            inner.MintJwtSvidAsync(id, audience, ttl, cancellationToken);

        public Task<StoredBundle> GetBundleAsync(CancellationToken cancellationToken) => inner.GetBundleAsync(cancellationToken);

        public Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(AuthorityKind kind, CancellationToken cancellationToken) =>
            inner.ListAuthoritiesAsync(kind, cancellationToken);

        public Task<ImmutableArray<AuthorityRecord>> ListTaintedAsync(CancellationToken cancellationToken) => inner.ListTaintedAsync(cancellationToken);

        public Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken cancellationToken) => inner.PrepareAsync(kind, cancellationToken);

        public Task<AuthorityRecord> ActivateAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
            inner.ActivateAsync(kind, id, cancellationToken);

        public Task<AuthorityRecord> TaintAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) => inner.TaintAsync(kind, id, cancellationToken);

        public Task<AuthorityRecord> RevokeAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
            inner.RevokeAsync(kind, id, cancellationToken);
    }
}
