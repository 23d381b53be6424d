using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca.Internal;

/// <summary>Signs workload X.509-SVIDs and mints JWT-SVIDs with the active authorities of <see cref="AuthoritySlots"/>.</summary>
internal sealed class SvidSigner(CaContext ca, AuthoritySlots slots)
{
    /// <summary>
    /// The TTL defaults to <see cref="CaManagerOptions.X509SvidTtl"/> and is capped at the active
    /// authority's lifetime / 6 and at its notAfter. The chain is the leaf alone for a self-signed
    /// authority, else the leaf, the authority's CA certificate and the upstream intermediates.
    /// </summary>
    public IssuedX509Svid SignX509(SpiffeId id, ReadOnlySpan<byte> csr, IReadOnlyList<string> dnsNames, TimeSpan? ttl)
    {
        var active = slots.ActiveX509 ?? throw new InvalidOperationException("no active x509 authority; the ca is not ready");
        var der = active.Issuer.IssueFromCsr(id, csr, dnsNames, ttl ?? ca.Options.X509SvidTtl);
        using var leaf = X509CertificateLoader.LoadCertificate(der);
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        return new IssuedX509Svid(id, [der, .. active.Presented], leaf.SerialNumber, notAfter, active.Record.Id);
    }

    /// <summary>
    /// The TTL defaults to <see cref="CaManagerOptions.JwtSvidTtl"/> and is capped at the active
    /// authority's lifetime / 6 and at its notAfter; the expiry is in whole seconds, as the token's <c>exp</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The ID is empty or not in this trust domain, or an audience is empty.</exception>
    /// <exception cref="InvalidOperationException">No active JWT authority.</exception>
    public IssuedJwtSvid MintJwt(SpiffeId id, IReadOnlyList<string> audience, TimeSpan? ttl)
    {
        var active = slots.ActiveJwt ?? throw new InvalidOperationException("no active jwt authority; the ca is not ready");
        if (id.IsEmpty)
        {
            throw new ArgumentException("spiffe id is empty", nameof(id));
        }

        if (!id.MemberOf(ca.TrustDomain))
        {
            throw new ArgumentException($"spiffe id \"{id}\" is not in trust domain \"{ca.TrustDomain}\" of this ca", nameof(id));
        }

        var authority = active.Authority;
        var (_, notAfter) = RotationPlanner.SvidWindow(ca.Time.GetUtcNow(), ttl ?? ca.Options.JwtSvidTtl, authority.NotBefore, authority.NotAfter);
        var expiry = DateTimeOffset.FromUnixTimeSeconds(notAfter.ToUnixTimeSeconds());
        var token = JwtSvid.Mint(id, audience, expiry, authority.SigningKey, ca.Time);
        return new IssuedJwtSvid(token, expiry);
    }
}
