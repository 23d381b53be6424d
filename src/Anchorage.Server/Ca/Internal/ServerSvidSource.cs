using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// The server's own X.509-SVID as a source: the CA manager swaps in a new one; readers (TLS
/// handshakes) get the current one without locking. A replaced SVID is disposed one swap later,
/// so a handshake that just read it can finish with its key.
/// </summary>
internal sealed class ServerSvidSource : IX509SvidSource, IDisposable
{
    private readonly Lock _lock = new();
    private volatile X509Svid? _current;
    private X509Svid? _previous;

    /// <summary>The SVID now, or null before the first issue.</summary>
    public X509Svid? Current => _current;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">No SVID yet (the CA has no active X.509 authority).</exception>
    public X509Svid GetX509Svid() => _current ?? throw new InvalidOperationException("the server has no svid yet; the ca has no active x509 authority");

    public void Set(X509Svid svid)
    {
        X509Svid? stale;
        lock (_lock)
        {
            stale = _previous;
            _previous = _current;
            _current = svid;
        }

        Dispose(stale);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            Dispose(_previous);
            Dispose(_current);
            _previous = null;
            _current = null;
        }
    }

    private static void Dispose(X509Svid? svid)
    {
        if (svid is null)
        {
            return;
        }

        svid.PrivateKey.Dispose();
        foreach (var certificate in svid.Certificates)
        {
            certificate.Dispose();
        }
    }
}
