using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// A bundle endpoint the test controls: Kestrel on https://127.0.0.1:PORT/bundle with a server
/// certificate (IP SAN 127.0.0.1) from a private CA made here, serving whatever <see cref="Body"/> holds.
/// </summary>
internal sealed class WebEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile string _body = string.Empty;
    private long _dateOffsetTicks;

    private WebEndpoint(WebApplication app, string url, string caPem)
    {
        _app = app;
        Url = url;
        CaPem = caPem;
    }

    /// <summary>The bundle URL.</summary>
    public string Url { get; }

    /// <summary>The private CA's certificate, PEM (the relationship's caBundle).</summary>
    public string CaPem { get; }

    /// <summary>The response body served from now on (200, application/json).</summary>
    public string Body
    {
        get => _body;
        set => _body = value;
    }

    /// <summary>How far the endpoint's clock (its HTTP Date header) is set from the real one; zero: Kestrel's own Date.</summary>
    public TimeSpan DateOffset
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _dateOffsetTicks));
        set => Interlocked.Exchange(ref _dateOffsetTicks, value.Ticks);
    }

    public static async Task<WebEndpoint> StartAsync()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Private Test Web CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var issued = request.Create(ca, now.AddMinutes(-5), now.AddHours(12), [1, 2, 3, 4, 5, 6, 7, 8]);
        var serverCert = issued.CopyWithPrivateKey(key);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(serverCert)));
        var app = builder.Build();
        WebEndpoint? endpoint = null;
        app.MapGet("/bundle", (HttpContext context) =>
        {
            if (endpoint!.DateOffset != TimeSpan.Zero)
            {
                context.Response.Headers.Date = (DateTimeOffset.UtcNow + endpoint.DateOffset).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            }

            return Results.Text(endpoint.Body, "application/json");
        });
        await app.StartAsync();
        var port = new Uri(app.Urls.First()).Port;
        endpoint = new WebEndpoint(app, $"https://127.0.0.1:{port}/bundle", ca.ExportCertificatePem());
        return endpoint;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
