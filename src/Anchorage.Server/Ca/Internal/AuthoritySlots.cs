using System.Security.Cryptography;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// The keys of this server's active and prepared authorities, loaded from the key manager, and the
/// active authority of each kind that signs. A journal entry whose key is missing or unusable is
/// demoted to old (never deleted, see <see cref="CaManager"/>'s remarks).
/// </summary>
internal sealed class AuthoritySlots(CaContext ca, JwtAuthorityFactory jwtFactory) : IDisposable
{
    private readonly Dictionary<string, X509Authority> _x509Loaded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JwtSigningAuthority> _jwtLoaded = new(StringComparer.Ordinal);

    // Unloaded authorities wait one rotation interval before their keys are disposed, so a signing
    // call that picked one up just before a swap can finish.
    private readonly List<(IDisposable Authority, DateTimeOffset At)> _retiring = [];

    private volatile ActiveX509Slot? _activeX509;
    private volatile ActiveJwtSlot? _activeJwt;

    /// <summary>The active X.509 authority of this server, or null (none, or no usable key).</summary>
    public ActiveX509Slot? ActiveX509 => _activeX509;

    /// <summary>The active JWT authority of this server, or null (none, or no usable key).</summary>
    public ActiveJwtSlot? ActiveJwt => _activeJwt;

    /// <summary>Holds a newly prepared authority's key (the journal names it as prepared).</summary>
    public void Add(string id, X509Authority authority) => _x509Loaded[id] = authority;

    /// <inheritdoc cref="Add(string, X509Authority)"/>
    public void Add(string id, JwtSigningAuthority authority) => _jwtLoaded[id] = authority;

    /// <summary>
    /// Re-reads the journal; loads the keys of this server's active and prepared authorities (a
    /// missing or unusable key demotes its record to old); unloads what is no longer active or
    /// prepared; points signing at the journal's active authorities.
    /// </summary>
    public async Task ReconcileAsync(AuthorityJournal journal, CancellationToken cancellationToken)
    {
        DisposeRetired();
        for (var pass = 0; pass < 2; pass++)
        {
            await journal.ReadAsync(cancellationToken).ConfigureAwait(false);
            var demoted = false;
            foreach (var record in journal.Records.Where(a => ca.IsMine(a) && a.State != AuthorityState.Old && !IsLoaded(a)))
            {
                if (!await TryLoadAsync(record, cancellationToken).ConfigureAwait(false))
                {
                    await ca.Store.DemoteAuthorityAsync(record.Kind, record.Id, cancellationToken).ConfigureAwait(false);
                    demoted = true;
                }
            }

            if (!demoted)
            {
                break;
            }
        }

        var wanted = journal.Records.Where(a => ca.IsMine(a) && a.State != AuthorityState.Old).Select(a => (a.Kind, a.Id)).ToHashSet();
        Unload(_x509Loaded, AuthorityKind.X509, wanted);
        Unload(_jwtLoaded, AuthorityKind.Jwt, wanted);

        var x509 = AuthorityJournal.Latest(journal.Mine(AuthorityKind.X509).Where(a => _x509Loaded.ContainsKey(a.Id)), AuthorityState.Active);
        if (x509 is null)
        {
            _activeX509 = null;
        }
        else if (_activeX509 is not { } current || current.Record.Id != x509.Id)
        {
            _activeX509 = new ActiveX509Slot(x509, _x509Loaded[x509.Id], ca.Time);
        }
        else if (current.Record != x509)
        {
            _activeX509 = current with { Record = x509 };
        }

        var jwt = AuthorityJournal.Latest(journal.Mine(AuthorityKind.Jwt).Where(a => _jwtLoaded.ContainsKey(a.Id)), AuthorityState.Active);
        _activeJwt = jwt is null ? null : new ActiveJwtSlot(jwt, _jwtLoaded[jwt.Id]);
    }

    /// <summary>Disposes every key held in memory.</summary>
    public void Dispose()
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

    private bool IsLoaded(AuthorityRecord record) =>
        record.Kind == AuthorityKind.X509 ? _x509Loaded.ContainsKey(record.Id) : _jwtLoaded.ContainsKey(record.Id);

    private async Task<bool> TryLoadAsync(AuthorityRecord record, CancellationToken cancellationToken)
    {
        var kind = CaContext.Name(record.Kind);
        var state = record.State == AuthorityState.Active ? "active" : "prepared";
        AsymmetricAlgorithm? key;
        try
        {
            key = await ca.Keys.GetAsync(AuthorityKeyIds.For(record), cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            CaManagerLog.KeyUnusable(ca.Logger, kind, record.Id, state, ex.Message);
            return false;
        }

        if (key is null)
        {
            CaManagerLog.KeyMissing(ca.Logger, kind, record.Id, state);
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

                _jwtLoaded[record.Id] = jwtFactory.FromRecord(record, ecdsa);
            }

            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException or FormatException)
        {
            key.Dispose();
            CaManagerLog.KeyUnusable(ca.Logger, kind, record.Id, state, ex.Message);
            return false;
        }
    }

    private void Unload<T>(Dictionary<string, T> loaded, AuthorityKind kind, HashSet<(AuthorityKind, string)> wanted)
        where T : IDisposable
    {
        foreach (var id in loaded.Keys.Where(id => !wanted.Contains((kind, id))).ToList())
        {
            _retiring.Add((loaded[id], ca.Time.GetUtcNow()));
            loaded.Remove(id);
        }
    }

    private void DisposeRetired()
    {
        var now = ca.Time.GetUtcNow();
        for (var i = _retiring.Count - 1; i >= 0; i--)
        {
            if (now - _retiring[i].At >= ca.Options.RotationCheckInterval)
            {
                _retiring[i].Authority.Dispose();
                _retiring.RemoveAt(i);
            }
        }
    }
}
