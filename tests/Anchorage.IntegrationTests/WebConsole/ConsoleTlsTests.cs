using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Foundation.Config;
using Anchorage.Server.Config;
using Anchorage.Testing;
using Anchorage.Testing.Logging;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>The console with <c>servingCert</c> (issue 16): HTTPS only, a Secure cookie, no token or secret in the log.</summary>
public sealed class ConsoleTlsTests
{
    [Fact]
    public async Task Console_ServingCert_HttpsSecureCookieNothingSecretLogged()
    {
        using var dir = new TempDir();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=console.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var files = new ServingCertOptions { CertFile = Path.Join(dir.Path, "console.crt"), KeyFile = Path.Join(dir.Path, "console.key") };
        await File.WriteAllTextAsync(files.CertFile, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(files.KeyFile, key.ExportPkcs8PrivateKeyPem());
        var dataDir = Path.Join(dir.Path, "data");
        Directory.CreateDirectory(dataDir);
        var options = TestServer.Options(dataDir) with
        {
            Console = new ConsoleOptions { Listen = new HostPort("127.0.0.1", 0), ServingCert = files, SessionTtl = TimeSpan.FromMinutes(10) },
        };
        using var log = new LogCapture();
        await using var server = await TestServer.StartAsync(options, log.Factory);

        var url = await ConsoleClient.LoginUrlAsync(server);
        Assert.Equal("https", url.Scheme);
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();
        using var http = new HttpClient(handler);

        // Plain HTTP on the console port is not served.
        using var plain = new HttpClient();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync(new Uri($"http://127.0.0.1:{url.Port}/")));

        using var login = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.SeeOther, login.StatusCode);
        var setCookie = login.Headers.GetValues("Set-Cookie").Single();
        Assert.Matches("^anchorage_console=[A-Za-z0-9_-]{43}; max-age=600; path=/; secure; samesite=strict; httponly$", setCookie);

        using var graph = new HttpRequestMessage(HttpMethod.Get, new Uri(ConsoleClient.BaseOf(url), "/api/graph"));
        graph.Headers.Add("Cookie", setCookie.Split(';')[0]);
        using var answer = await http.SendAsync(graph);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        var token = url.Query["?token=".Length..];
        var session = setCookie.Split(';')[0]["anchorage_console=".Length..];
        Assert.Contains(log.Events, e => e.EventId == 1102);
        // Anchorage's own events, and anything at Warning or above (what `server run` keeps of Microsoft's
        // categories: ASP.NET's Information request line does carry the URL, query included).
        var kept = log.Lines.Where(l => l.Contains(" Anchorage.", StringComparison.Ordinal) || l.StartsWith("Warning", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal)).ToList();
        Assert.Contains(kept, l => l.Contains("[1102]", StringComparison.Ordinal));
        Assert.DoesNotContain(kept, l => l.Contains(token, StringComparison.Ordinal) || l.Contains(session, StringComparison.Ordinal));
    }
}
