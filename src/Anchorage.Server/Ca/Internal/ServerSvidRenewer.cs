using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// The server's own X.509-SVID (key in memory only), signed by the active X.509 authority,
/// re-issued at half its life and whenever the active authority changes.
/// </summary>
internal sealed class ServerSvidRenewer(CaContext ca, AuthoritySlots slots, SpiffeId serverId) : IDisposable
{
    private readonly ServerSvidSource _source = new();
    private string? _authorityId;
    private DateTimeOffset _renewAt;

    public IX509SvidSource Source => _source;

    /// <summary>Issues a new SVID when <paramref name="force"/>d, when none was issued, when the active authority changed or at half life; failures are logged.</summary>
    public void Renew(bool force)
    {
        var active = slots.ActiveX509;
        if (active is null)
        {
            return;
        }

        var now = ca.Time.GetUtcNow();
        if (!force && _source.Current is not null && string.Equals(_authorityId, active.Record.Id, StringComparison.Ordinal) && now < _renewAt)
        {
            return;
        }

        try
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            X509Svid svid;
            try
            {
                var der = active.Issuer.Issue(serverId, key.ExportSubjectPublicKeyInfo(), null, ca.Options.X509SvidTtl);
                svid = new X509Svid([X509CertificateLoader.LoadCertificate(der), .. active.Presented.Select(c => X509CertificateLoader.LoadCertificate(c))], key);
            }
            catch
            {
                key.Dispose();
                throw;
            }

            var leaf = svid.Leaf;
            var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero);
            var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            _source.Set(svid);
            _authorityId = active.Record.Id;
            _renewAt = notBefore + ((notAfter - notBefore) / 2);
            CaManagerLog.ServerSvidIssued(ca.Logger, serverId, leaf.SerialNumber, active.Record.Id, notAfter);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or CryptographicException or Anchorage.Spiffe.SvidValidationException)
        {
            CaManagerLog.ServerSvidFailed(ca.Logger, ex);
        }
    }

    public void Dispose() => _source.Dispose();
}
