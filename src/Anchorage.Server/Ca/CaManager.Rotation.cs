using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Hosting.Audit;
using Anchorage.Server.Ca.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Federation.Internal;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Ca;

/// <summary>The journal, the rotation steps and the bundle; every member here runs under the manager's lock.</summary>
public sealed partial class CaManager
{
    // This server's authorities whose keys are loaded: the active and prepared ones.
    private readonly Dictionary<string, X509Authority> _x509Loaded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JwtSigningAuthority> _jwtLoaded = new(StringComparer.Ordinal);

    // Unloaded authorities wait one rotation interval before their keys are disposed, so a signing
    // call that picked one up just before a swap can finish.
    private readonly List<(IDisposable Authority, DateTimeOffset At)> _retiring = [];

    // Records already reported as unusable or of an unknown upstream, so the 10 s check does not repeat itself.
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);

    private IReadOnlyList<AuthorityRecord> _journal = [];
    private string _journalFingerprint = string.Empty;
    private volatile ActiveX509? _activeX509;
    private volatile ActiveJwt? _activeJwt;
    private volatile StoredBundle? _bundle;
    private StoredBundle? _pendingBundle;
    private int _pendingAuthorities;
    private string? _serverSvidAuthorityId;
    private DateTimeOffset _serverSvidRenewAt;

    /// <summary>
    /// The rotation: retire what expired and prepare what is due (for both kinds), publish the
    /// bundle (so every prepared authority is in it), then activate what is due; repeat until the
    /// plan says nothing more is due now (a server that was down for a long time may need two rounds).
    /// </summary>
    private async Task RotateCoreAsync(CancellationToken cancellationToken)
    {
        await ReconcileAsync(cancellationToken).ConfigureAwait(false);
        for (var round = 0; round < 4; round++)
        {
            var changed = false;
            foreach (var kind in Kinds)
            {
                for (var step = 0; step < 4; step++)
                {
                    var decision = RotationPlanner.Plan(Mine(kind), _time.GetUtcNow());
                    if (decision.Action == RotationAction.Retire)
                    {
                        await RetireAsync(decision.Expired, cancellationToken).ConfigureAwait(false);
                    }
                    else if (decision.Action == RotationAction.Prepare)
                    {
                        await PrepareCoreAsync(kind, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        break;
                    }

                    changed = true;
                    await ReconcileAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            await PublishAsync(cancellationToken).ConfigureAwait(false);
            var activated = false;
            foreach (var kind in Kinds)
            {
                var decision = RotationPlanner.Plan(Mine(kind), _time.GetUtcNow());
                if (decision is { Action: RotationAction.Activate, Authority: { } prepared })
                {
                    // False: another server revoked it meanwhile; the next round plans from the journal as it is.
                    activated |= await ActivateCoreAsync(prepared, cancellationToken).ConfigureAwait(false);
                }
            }

            if (!changed && !activated)
            {
                break;
            }
        }
    }

    /// <summary>Key first (written and synced by the key manager), then the journal entry naming it.</summary>
    private async Task<AuthorityRecord> PrepareCoreAsync(AuthorityKind kind, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        AuthorityRecord record;
        if (kind == AuthorityKind.X509)
        {
            var authority = await _x509Factory.CreateAsync(_keys, _options.KeyType, _options.CaTtl, _options.UpstreamAuthority, cancellationToken)
                .ConfigureAwait(false);
            record = authority.ToRecord(ServerId, AuthorityState.Prepared, now);
            await JournalNewAsync(record, authority, cancellationToken).ConfigureAwait(false);
            _x509Loaded[record.Id] = authority;
        }
        else
        {
            var authority = await _jwtFactory.CreateAsync(_keys, _options.CaTtl, cancellationToken).ConfigureAwait(false);
            record = authority.ToRecord(ServerId, AuthorityState.Prepared, now);
            await JournalNewAsync(record, authority, cancellationToken).ConfigureAwait(false);
            _jwtLoaded[record.Id] = authority;
        }

        var kindName = Name(kind);
        CaManagerLog.Prepared(_logger, kindName, record.Id, record.NotAfter);
        AuditAuthority("prepared", record);
        return record;
    }

    private async Task JournalNewAsync(AuthorityRecord record, IDisposable authority, CancellationToken cancellationToken)
    {
        try
        {
            await _store.CreateAuthorityAsync(record, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The journal does not name the key: it is an orphan; remove it (best effort, the key file is harmless).
            authority.Dispose();
            await _keys.DeleteAsync(AuthorityKeyIds.For(record), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Makes <paramref name="prepared"/> this server's active authority of its kind: checks the
    /// stored bundle holds it, then journals it active and the previous active one old in one
    /// conditional write (only if it is still prepared), and only then signs with it. False when
    /// the journal no longer holds it as prepared (revoked or activated by another server meanwhile).
    /// </summary>
    private async Task<bool> ActivateCoreAsync(AuthorityRecord prepared, CancellationToken cancellationToken)
    {
        var kind = prepared.Kind;
        if (!InBundle(prepared))
        {
            // Another server published a bundle computed before this one was journalled: publish again.
            CaManagerLog.PreparedNotPublished(_logger, Name(kind), prepared.Id);
            await PublishAsync(cancellationToken).ConfigureAwait(false);
            if (!InBundle(prepared))
            {
                throw new InvalidOperationException($"{Name(kind)} authority \"{prepared.Id}\" is not in the published bundle yet; try again");
            }
        }

        var previous = Mine(kind).Where(a => a.State == AuthorityState.Active && a.Id != prepared.Id).MaxBy(a => a.NotAfter)?.Id ?? "none";
        var activated = await _store.ActivateAuthorityAsync(kind, prepared.Id, cancellationToken).ConfigureAwait(false);
        await ReconcileAsync(cancellationToken).ConfigureAwait(false);
        var kindName = Name(kind);
        if (!activated)
        {
            CaManagerLog.ActivationLost(_logger, kindName, prepared.Id);
            await PublishAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        CaManagerLog.Activated(_logger, kindName, prepared.Id, previous);
        AuditAuthority("activated", prepared, "previous active: " + previous);
        return true;
    }

    /// <summary>Journal entry first, then the key: the journal never names a key that is gone.</summary>
    private async Task RetireAsync(ImmutableArray<AuthorityRecord> expired, CancellationToken cancellationToken)
    {
        foreach (var record in expired)
        {
            await _store.DeleteAuthorityAsync(record.Kind, record.Id, cancellationToken).ConfigureAwait(false);
            await _keys.DeleteAsync(AuthorityKeyIds.For(record), cancellationToken).ConfigureAwait(false);
            var kindName = Name(record.Kind);
            CaManagerLog.Retired(_logger, kindName, record.Id, record.NotAfter);
            AuditAuthority("retired", record, "expired");
        }
    }

    /// <summary>
    /// Re-reads the journal; loads the keys of this server's active and prepared authorities (a
    /// missing or unusable key demotes its record to old, see the type's remarks); unloads what is
    /// no longer active or prepared; points signing at the journal's active authorities.
    /// </summary>
    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        DisposeRetired();
        for (var pass = 0; pass < 2; pass++)
        {
            _journal = await _store.ListAuthoritiesAsync(cancellationToken).ConfigureAwait(false);
            var demoted = false;
            foreach (var record in _journal.Where(a => IsMine(a) && a.State != AuthorityState.Old && !IsLoaded(a)))
            {
                if (!await TryLoadAsync(record, cancellationToken).ConfigureAwait(false))
                {
                    await _store.DemoteAuthorityAsync(record.Kind, record.Id, cancellationToken).ConfigureAwait(false);
                    demoted = true;
                }
            }

            if (!demoted)
            {
                break;
            }
        }

        var wanted = _journal.Where(a => IsMine(a) && a.State != AuthorityState.Old).Select(a => (a.Kind, a.Id)).ToHashSet();
        Unload(_x509Loaded, AuthorityKind.X509, wanted);
        Unload(_jwtLoaded, AuthorityKind.Jwt, wanted);

        var x509 = Latest(Mine(AuthorityKind.X509).Where(a => _x509Loaded.ContainsKey(a.Id)), AuthorityState.Active);
        if (x509 is null)
        {
            _activeX509 = null;
        }
        else if (_activeX509 is not { } current || current.Record.Id != x509.Id)
        {
            _activeX509 = new ActiveX509(x509, _x509Loaded[x509.Id], _time);
        }
        else if (current.Record != x509)
        {
            _activeX509 = current with { Record = x509 };
        }

        var jwt = Latest(Mine(AuthorityKind.Jwt).Where(a => _jwtLoaded.ContainsKey(a.Id)), AuthorityState.Active);
        _activeJwt = jwt is null ? null : new ActiveJwt(jwt, _jwtLoaded[jwt.Id]);

        var fingerprint = Fingerprint(_journal);
        if (!string.Equals(fingerprint, _journalFingerprint, StringComparison.Ordinal))
        {
            if (_journalFingerprint.Length > 0)
            {
                Volatile.Write(ref _pendingAuthorities, 1);
            }

            _journalFingerprint = fingerprint;
        }
    }

    private async Task<bool> TryLoadAsync(AuthorityRecord record, CancellationToken cancellationToken)
    {
        var kind = Name(record.Kind);
        var state = record.State == AuthorityState.Active ? "active" : "prepared";
        AsymmetricAlgorithm? key;
        try
        {
            key = await _keys.GetAsync(AuthorityKeyIds.For(record), cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            CaManagerLog.KeyUnusable(_logger, kind, record.Id, state, ex.Message);
            return false;
        }

        if (key is null)
        {
            CaManagerLog.KeyMissing(_logger, kind, record.Id, state);
            return false;
        }

        try
        {
            if (record.Kind == AuthorityKind.X509)
            {
                _x509Loaded[record.Id] = X509Authority.FromRecord(record, key);
            }
            else
            {
                if (key is not ECDsa ecdsa
                    || record.PublicKey is null
                    || !record.PublicKey.AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
                {
                    throw new ArgumentException("the key does not match the journal's public key");
                }

                _jwtLoaded[record.Id] = _jwtFactory.FromRecord(record, ecdsa);
            }

            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException or FormatException)
        {
            key.Dispose();
            CaManagerLog.KeyUnusable(_logger, kind, record.Id, state, ex.Message);
            return false;
        }
    }

    private void Unload<T>(Dictionary<string, T> loaded, AuthorityKind kind, HashSet<(AuthorityKind, string)> wanted)
        where T : IDisposable
    {
        foreach (var id in loaded.Keys.Where(id => !wanted.Contains((kind, id))).ToList())
        {
            _retiring.Add((loaded[id], _time.GetUtcNow()));
            loaded.Remove(id);
        }
    }

    private void DisposeRetired()
    {
        var now = _time.GetUtcNow();
        for (var i = _retiring.Count - 1; i >= 0; i--)
        {
            if (now - _retiring[i].At >= _options.RotationCheckInterval)
            {
                _retiring[i].Authority.Dispose();
                _retiring.RemoveAt(i);
            }
        }
    }

    private void DisposeAuthorities()
    {
        foreach (var authority in _x509Loaded.Values)
        {
            authority.Dispose();
        }

        foreach (var authority in _jwtLoaded.Values)
        {
            authority.Dispose();
        }

        foreach (var (authority, _) in _retiring)
        {
            authority.Dispose();
        }

        _x509Loaded.Clear();
        _jwtLoaded.Clear();
        _retiring.Clear();
        _activeX509 = null;
        _activeJwt = null;
    }

    /// <summary>
    /// Publishes the bundle of every server's unexpired authorities, as the datastore's journal holds
    /// them inside the publishing transaction, not this server's earlier read (the store bumps the
    /// sequence only on change).
    /// </summary>
    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.PublishBundleAsync(TrustDomain, BuildBundle, cancellationToken).ConfigureAwait(false);
        var previous = _bundle;
        _bundle = stored;
        if (previous?.Bundle.SequenceNumber != stored.Bundle.SequenceNumber)
        {
            CaManagerLog.BundleChanged(
                _logger, TrustDomain.Name, stored.Bundle.SequenceNumber ?? 0, stored.Bundle.X509Authorities.Length, stored.Bundle.JwtAuthorities.Length);
            if (previous is not null && _options.Audit is { } audit)
            {
                // The first read at start is not a change; later ones are (by this server or another sharing the datastore).
                var (added, removed) = BundleComparison.Diff(previous.Bundle, stored.Bundle);
                audit.Write(new AuditRecord
                {
                    Time = _time.GetUtcNow(),
                    Kind = AuditKinds.Bundle,
                    Decision = "updated",
                    TrustDomain = TrustDomain.Name,
                    Sequence = FederationRefresher.AuditSequence(stored.Bundle.SequenceNumber),
                    AuthoritiesAdded = added,
                    AuthoritiesRemoved = removed,
                });
            }
            _pendingBundle = stored;
        }
    }

    /// <summary>
    /// X.509: each self-signed authority's certificate; for an upstream-signed one, the configured
    /// upstream root that issued the top of its chain (not the authority itself). JWT: each key.
    /// Authorities whose notAfter has passed are left out, whoever owns them.
    /// </summary>
    private SpiffeBundle BuildBundle(IReadOnlyList<AuthorityRecord> journal)
    {
        var now = _time.GetUtcNow();
        var x509 = new List<X509Certificate2>();
        var jwt = new List<JwtAuthority>();
        foreach (var record in OldestFirst(journal.Where(a => a.NotAfter > now)))
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
                var roots = _options.UpstreamAuthority?.Roots.Where(r => r.SubjectName.RawData.AsSpan().SequenceEqual(top)).ToList() ?? [];
                certificate.Dispose();
                if (roots.Count == 0)
                {
                    if (_reported.Add("upstream:" + record.Id))
                    {
                        CaManagerLog.UpstreamRootUnknown(_logger, record.Id, record.ServerId);
                    }

                    continue;
                }

                x509.AddRange(roots);
            }
            catch (Exception ex) when (ex is FormatException or CryptographicException or System.Formats.Asn1.AsnContentException)
            {
                if (_reported.Add("record:" + Name(record.Kind) + record.Id))
                {
                    CaManagerLog.RecordUnusable(_logger, Name(record.Kind), record.Id, record.ServerId, ex.Message);
                }
            }
        }

        return new SpiffeBundle(TrustDomain, x509, jwt, sequenceNumber: null, refreshHint: _options.RefreshHint);
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

    private static bool IsSelfSigned(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    private bool InBundle(AuthorityRecord record)
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

    private AuthorityRecord Find(AuthorityKind kind, string id) =>
        _journal.FirstOrDefault(a => a.Kind == kind && string.Equals(a.Id, id, StringComparison.Ordinal))
        ?? throw new DataStoreNotFoundException($"{Name(kind)} authority \"{id}\" not found");

    private bool IsMine(AuthorityRecord record) => string.Equals(record.ServerId, ServerId, StringComparison.Ordinal);

    private bool IsLoaded(AuthorityRecord record) =>
        record.Kind == AuthorityKind.X509 ? _x509Loaded.ContainsKey(record.Id) : _jwtLoaded.ContainsKey(record.Id);

    /// <summary>This server's records of <paramref name="kind"/> (those with a sane validity window: the planner rejects others).</summary>
    private List<AuthorityRecord> Mine(AuthorityKind kind) =>
        [.. _journal.Where(a => a.Kind == kind && IsMine(a) && a.NotAfter > a.NotBefore)];

    private static string Fingerprint(IReadOnlyList<AuthorityRecord> journal)
    {
        var text = new StringBuilder();
        foreach (var a in journal.OrderBy(a => a.Kind).ThenBy(a => a.Id, StringComparer.Ordinal))
        {
            text.Append(Name(a.Kind)).Append(' ').Append(a.Id).Append(' ').Append(a.ServerId).Append(' ').Append(a.State).Append(' ').Append(a.Tainted).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The active X.509 authority with its issuer and the DER certificates presented after a leaf.</summary>
    private sealed record ActiveX509(AuthorityRecord Record, X509Authority Authority, X509SvidIssuer Issuer, ImmutableArray<byte[]> Presented)
    {
        public ActiveX509(AuthorityRecord record, X509Authority authority, TimeProvider time)
            : this(
                record,
                authority,
                new X509SvidIssuer(authority, time),
                IsSelfSigned(authority.Certificate) ? [] : [.. authority.PresentedChain.Select(c => c.RawData)])
        {
        }
    }

    private sealed record ActiveJwt(AuthorityRecord Record, JwtSigningAuthority Authority);
}
