using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Foundation.Audit;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// Publishes the trust domain's bundle, built from the datastore's journal as it is inside the
/// publishing transaction (never from this server's earlier read), and keeps the last one stored.
/// </summary>
internal sealed class BundlePublisher(CaContext ca)
{
    // Records already reported as unusable or of an unknown upstream, so the 10 s check does not repeat itself.
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);

    private volatile StoredBundle? _bundle;
    private StoredBundle? _pending;

    /// <summary>The bundle last published or read; null before the first.</summary>
    public StoredBundle? Current => _bundle;

    /// <summary>Whether <paramref name="certificate"/> is its own issuer (a self-signed authority is its own bundle root).</summary>
    public static bool IsSelfSigned(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    /// <summary>The bundle stored since the last take when its sequence changed, once; else null.</summary>
    public StoredBundle? TakePending() => Interlocked.Exchange(ref _pending, null);

    /// <summary>
    /// Publishes the bundle of every server's unexpired authorities, as the datastore's journal holds
    /// them inside the publishing transaction (the store bumps the sequence only on change).
    /// </summary>
    public async Task PublishAsync(CancellationToken cancellationToken)
    {
        var stored = await ca.Store.PublishBundleAsync(ca.TrustDomain, BuildBundle, cancellationToken).ConfigureAwait(false);
        var previous = _bundle;
        _bundle = stored;
        if (previous?.Bundle.SequenceNumber != stored.Bundle.SequenceNumber)
        {
            CaManagerLog.BundleChanged(
                ca.Logger, ca.TrustDomain.Name, stored.Bundle.SequenceNumber ?? 0, stored.Bundle.X509Authorities.Length, stored.Bundle.JwtAuthorities.Length);
            if (previous is not null && ca.Options.Audit is { } audit)
            {
                // The first read at start is not a change; later ones are (by this server or another sharing the datastore).
                var (added, removed) = BundleComparison.Diff(previous.Bundle, stored.Bundle);
                audit.Write(new AuditRecord
                {
                    Time = ca.Time.GetUtcNow(),
                    Kind = AuditKinds.Bundle,
                    Decision = "updated",
                    TrustDomain = ca.TrustDomain.Name,
                    Sequence = FederationRefresher.AuditSequence(stored.Bundle.SequenceNumber),
                    AuthoritiesAdded = added,
                    AuthoritiesRemoved = removed,
                });
            }

            _pending = stored;
        }
    }

    /// <summary>Whether the bundle last published holds <paramref name="record"/> (its certificate, its upstream root, or its JWT key).</summary>
    public bool InBundle(AuthorityRecord record)
    {
        var bundle = _bundle?.Bundle;
        if (bundle is null)
        {
            return false;
        }

        if (record.Kind == AuthorityKind.Jwt)
        {
            return bundle.JwtAuthorities.Any(a => a.KeyId == record.Id && record.PublicKey is not null && a.SubjectPublicKeyInfo.Span.SequenceEqual(record.PublicKey));
        }

        using var certificate = X509CertificateLoader.LoadCertificate(record.CertificateDer!);
        if (IsSelfSigned(certificate))
        {
            return bundle.X509Authorities.Any(a => a.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span));
        }

        var top = TopIssuer(record, certificate);
        return bundle.X509Authorities.Any(a => a.SubjectName.RawData.AsSpan().SequenceEqual(top));
    }

    /// <summary>The issuer name of the last certificate of the record's upstream chain (or of the CA itself when the chain is empty).</summary>
    private static byte[] TopIssuer(AuthorityRecord record, X509Certificate2 certificate)
    {
        if (record.UpstreamChainDer is not { Length: > 0 } der)
        {
            return certificate.IssuerName.RawData;
        }

        var rest = der.AsSpan();
        var last = ReadOnlySpan<byte>.Empty;
        while (!rest.IsEmpty)
        {
            System.Formats.Asn1.AsnDecoder.ReadEncodedValue(rest, System.Formats.Asn1.AsnEncodingRules.DER, out _, out _, out var consumed);
            last = rest[..consumed];
            rest = rest[consumed..];
        }

        using var top = X509CertificateLoader.LoadCertificate(last);
        return top.IssuerName.RawData;
    }

    /// <summary>
    /// X.509: each self-signed authority's certificate; for an upstream-signed one, the configured
    /// upstream root that issued the top of its chain (not the authority itself). JWT: each key.
    /// Authorities whose notAfter has passed are left out, whoever owns them.
    /// </summary>
    private SpiffeBundle BuildBundle(IReadOnlyList<AuthorityRecord> journal)
    {
        var now = ca.Time.GetUtcNow();
        var x509 = new List<X509Certificate2>();
        var jwt = new List<JwtAuthority>();
        foreach (var record in AuthorityJournal.OldestFirst(journal.Where(a => a.NotAfter > now)))
        {
            try
            {
                if (record.Kind == AuthorityKind.Jwt)
                {
                    jwt.Add(new JwtAuthority(record.Id, record.PublicKey ?? throw new FormatException("no public key")));
                    continue;
                }

                var certificate = X509CertificateLoader.LoadCertificate(record.CertificateDer ?? throw new FormatException("no certificate"));
                if (IsSelfSigned(certificate))
                {
                    x509.Add(certificate);
                    continue;
                }

                var top = TopIssuer(record, certificate);
                var roots = ca.Options.UpstreamAuthority?.Roots.Where(r => r.SubjectName.RawData.AsSpan().SequenceEqual(top)).ToList() ?? [];
                certificate.Dispose();
                if (roots.Count == 0)
                {
                    if (_reported.Add("upstream:" + record.Id))
                    {
                        CaManagerLog.UpstreamRootUnknown(ca.Logger, record.Id, record.ServerId);
                    }

                    continue;
                }

                x509.AddRange(roots);
            }
            catch (Exception ex) when (ex is FormatException or CryptographicException or System.Formats.Asn1.AsnContentException)
            {
                var kindName = CaContext.Name(record.Kind);
                if (_reported.Add("record:" + kindName + record.Id))
                {
                    CaManagerLog.RecordUnusable(ca.Logger, kindName, record.Id, record.ServerId, ex.Message);
                }
            }
        }

        return new SpiffeBundle(ca.TrustDomain, x509, jwt, sequenceNumber: null, refreshHint: ca.Options.RefreshHint);
    }
}
