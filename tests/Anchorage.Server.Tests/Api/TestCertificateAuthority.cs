using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Api;

/// <summary>
/// A CA built from the real engine (self-signed X509Authority, X509SvidIssuer, JwtSigningAuthority)
/// behind <see cref="ICertificateAuthority"/>, publishing its bundle through the real datastore.
/// Only until CaManager lands; it adds two test switches: <see cref="Ready"/> (no active authority)
/// and <see cref="SignGate"/> (holds every signing call, to fill the admission limit).
/// </summary>
internal sealed class TestCertificateAuthority : ICertificateAuthority, IDisposable
{
    private const string ServerId = "test-server";
    private readonly IDataStore _store;
    private readonly X509SvidIssuer _issuer;
    private readonly JwtSigningAuthority _jwt;
    private ImmutableArray<AuthorityRecord> _tainted = [];

    public TestCertificateAuthority(TrustDomain trustDomain, IDataStore store)
    {
        TrustDomain = trustDomain;
        _store = store;
        Authority = new X509AuthorityFactory(trustDomain).CreateSelfSigned(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        _issuer = new X509SvidIssuer(Authority);
        _jwt = new JwtAuthorityFactory().Create(ECDsa.Create(ECCurve.NamedCurves.nistP256));
    }

    public TrustDomain TrustDomain { get; }

    public X509Authority Authority { get; }

    public X509Bundle X509Bundle => new(TrustDomain, [Authority.Certificate]);

    /// <summary>False: every signing call fails as a CA without an active authority does.</summary>
    public bool Ready { get; set; } = true;

    /// <summary>When set, each signing call waits for it.</summary>
    public Func<Task>? SignGate { get; set; }

    public void Taint(AuthorityRecord record) => _tainted = _tainted.Add(record with { Tainted = true });

    public async Task<IssuedX509Svid> SignX509SvidAsync(SpiffeId id, ReadOnlyMemory<byte> csr, IReadOnlyList<string> dnsNames, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        if (SignGate is { } gate)
        {
            await gate();
        }

        ThrowIfNotReady();
        using var leaf = X509CertificateLoader.LoadCertificate(_issuer.IssueFromCsr(id, csr.Span, dnsNames, ttl));
        return new IssuedX509Svid(id, [leaf.RawData], leaf.SerialNumber, new DateTimeOffset(leaf.NotAfter.ToUniversalTime()), Authority.Id);
    }

    public Task<IssuedJwtSvid> MintJwtSvidAsync(SpiffeId id, IReadOnlyList<string> audience, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ThrowIfNotReady();
        var token = _jwt.Mint(id, audience, ttl);
        return Task.FromResult(new IssuedJwtSvid(token, TimeProvider.System.GetUtcNow() + (ttl ?? RotationPlanner.DefaultJwtSvidTtl)));
    }

    public Task<StoredBundle> GetBundleAsync(CancellationToken cancellationToken) =>
        _store.PublishBundleAsync(
            new SpiffeBundle(TrustDomain, [Authority.Certificate], [JwtAuthority.FromKey(_jwt.Id, _jwt.SigningKey.Key)]),
            cancellationToken);

    public Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(AuthorityKind kind, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AuthorityRecord>>(kind == AuthorityKind.X509
            ? [Authority.ToRecord(ServerId, AuthorityState.Active, Authority.NotBefore)]
            : [_jwt.ToRecord(ServerId, AuthorityState.Active, _jwt.NotBefore)]);

    public Task<ImmutableArray<AuthorityRecord>> ListTaintedAsync(CancellationToken cancellationToken) => Task.FromResult(_tainted);

    public Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("test ca cannot prepare authorities");

    public Task<AuthorityRecord> ActivateAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"no prepared {(kind == AuthorityKind.X509 ? "x509" : "jwt")} authority to activate");

    public Task<AuthorityRecord> TaintAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("test ca cannot taint authorities");

    public Task<AuthorityRecord> RevokeAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("test ca cannot revoke authorities");

    public void Dispose()
    {
        Authority.Dispose();
        _jwt.Dispose();
    }

    private void ThrowIfNotReady()
    {
        if (!Ready)
        {
            throw new InvalidOperationException("ca has no active authority yet");
        }
    }
}
