using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Hosting.Internal;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Hosting;

/// <summary>
/// Presents a certificate kept in two PEM files (the bundle endpoint's <c>https_web</c> profile,
/// SPIFFE Trust Domain and Bundle §5.2.1) and follows changes to them without a restart.
/// </summary>
/// <remarks>
/// A handshake at least <c>checkInterval</c> after the last check reads both files again and
/// compares their bytes with what was last seen: no reliance on modification times or file
/// system events, so a rename over the file, a symlink swap (Kubernetes secrets) or an edit in
/// place are all seen. A new pair that does not load (half written, key and certificate from
/// different pairs, garbage) is logged once and the previous certificate stays in use; the
/// pair is tried again when the files change again.
/// </remarks>
public sealed class ServingCertificateFiles : IServerCertificateProvider
{
    /// <summary>The default time between two looks at the files: 1s.</summary>
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _checkInterval;
    private readonly Lock _lock = new();
    private Loaded _current;
    private byte[] _seenCertificate;
    private byte[] _seenKey;
    private DateTimeOffset _nextCheck;

    /// <summary>Loads the pair now; a pair that does not load stops the start.</summary>
    /// <param name="certificateFile">PEM certificates: the leaf first, then intermediates to send.</param>
    /// <param name="keyFile">PEM private key of the leaf (PKCS#8, SEC1 or PKCS#1; EC or RSA).</param>
    /// <param name="timeProvider">The clock of the check interval; default the system clock.</param>
    /// <param name="logger">Receives reloads and failed reloads; default none.</param>
    /// <param name="checkInterval">How long a check is trusted; default <see cref="DefaultCheckInterval"/>; zero checks at every handshake.</param>
    /// <exception cref="IOException">A file does not exist or cannot be read (the message names it).</exception>
    /// <exception cref="FormatException">A file holds no certificate or no usable key, or the key is not the certificate's (the message names the file).</exception>
    public ServingCertificateFiles(
        string certificateFile, string keyFile, TimeProvider? timeProvider = null, ILogger? logger = null, TimeSpan? checkInterval = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(certificateFile);
        ArgumentException.ThrowIfNullOrEmpty(keyFile);
        if (checkInterval is { } interval && interval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(checkInterval), "check interval is negative");
        }

        CertificateFile = certificateFile;
        KeyFile = keyFile;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _checkInterval = checkInterval ?? DefaultCheckInterval;
        _seenCertificate = Read(certificateFile, "serving certificate file");
        _seenKey = Read(keyFile, "serving key file");
        _current = Load(_seenCertificate, _seenKey);
        _nextCheck = _time.GetUtcNow() + _checkInterval;
    }

    /// <summary>The certificate file.</summary>
    public string CertificateFile { get; }

    /// <summary>The key file.</summary>
    public string KeyFile { get; }

    /// <summary>The leaf certificate presented now (as of the last check).</summary>
    public X509Certificate2 Certificate
    {
        get
        {
            lock (_lock)
            {
                return _current.Leaf;
            }
        }
    }

    /// <inheritdoc/>
    public SslStreamCertificateContext GetServerCertificate()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (now >= _nextCheck)
            {
                _nextCheck = now + _checkInterval;
                Check();
            }

            return _current.Context;
        }
    }

    private void Check()
    {
        byte[] certificate;
        byte[] key;
        try
        {
            certificate = Read(CertificateFile, "serving certificate file");
            key = Read(KeyFile, "serving key file");
        }
        catch (IOException e)
        {
            // A file being replaced may be missing for a moment: keep serving, look again next time.
            HostingLog.ServingCertificateUnreadable(_logger, e.Message);
            return;
        }

        if (certificate.AsSpan().SequenceEqual(_seenCertificate) && key.AsSpan().SequenceEqual(_seenKey))
        {
            return;
        }

        _seenCertificate = certificate;
        _seenKey = key;
        try
        {
            _current = Load(certificate, key);
            var leaf = _current.Leaf;
            var subject = leaf.Subject;
            var notAfter = leaf.NotAfter.ToUniversalTime();
            HostingLog.ServingCertificateReloaded(_logger, CertificateFile, subject, notAfter);
        }
        catch (FormatException e)
        {
            var subject = _current.Leaf.Subject;
            HostingLog.ServingCertificateReloadFailed(_logger, CertificateFile, e.Message, subject);
        }
    }

    private static byte[] Read(string file, string what)
    {
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new IOException($"{what} {file} does not exist", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{what} {file} cannot be read: permission denied", e);
        }
        catch (IOException e)
        {
            throw new IOException($"{what} {file} cannot be read: {e.Message}", e);
        }
    }

    private Loaded Load(byte[] certificateBytes, byte[] keyBytes)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(System.Text.Encoding.UTF8.GetString(certificateBytes));
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"serving certificate file {CertificateFile} is not a PEM certificate file", e);
        }

        if (certificates.Count == 0)
        {
            throw new FormatException($"serving certificate file {CertificateFile} holds no PEM certificate");
        }

        var keyPem = System.Text.Encoding.UTF8.GetString(keyBytes);
        X509Certificate2 leaf;
        using (var key = ReadKey(keyPem))
        {
            try
            {
                leaf = key switch
                {
                    ECDsa ec => certificates[0].CopyWithPrivateKey(ec),
                    RSA rsa => certificates[0].CopyWithPrivateKey(rsa),
                    _ => throw new FormatException($"serving key file {KeyFile} holds no EC or RSA private key"),
                };
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                throw new FormatException($"serving key file {KeyFile} does not match the certificate in {CertificateFile}", e);
            }
        }

        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < certificates.Count; i++)
        {
            intermediates.Add(certificates[i]);
        }

        // offline: the chain goes out as configured, without fetching anything.
        return new Loaded(leaf, SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
    }

    private AsymmetricAlgorithm ReadKey(string pem)
    {
        try
        {
            return PrivateKeys.ParsePem(pem);
        }
        catch (FormatException e)
        {
            throw new FormatException($"serving key file {KeyFile}: {e.Message}", e);
        }
    }

    private sealed record Loaded(X509Certificate2 Leaf, SslStreamCertificateContext Context);
}
