using System.Net;
using System.Net.Http;
using System.Text.Json;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>
/// An HTTP client of a server's web console that keeps cookies by hand (no redirects followed,
/// no cookie jar), so each test says exactly what it sends. <see cref="LoginAsync"/> runs
/// <c>anchorage console login</c> through the CLI and exchanges the URL it printed.
/// </summary>
internal sealed class ConsoleClient : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });

    public string? Cookie { get; set; }

    /// <summary>Runs <c>anchorage console login</c> against <paramref name="server"/>; the URL it printed.</summary>
    public static async Task<Uri> LoginUrlAsync(TestServer server)
    {
        var result = await server.CliAsync("console", "login");
        Assert.True(result.ExitCode == 0, result.Error + result.Out);
        return new Uri(result.Out.Trim());
    }

    /// <summary>The console's base address (<c>http://127.0.0.1:port</c>) from a login URL.</summary>
    public static Uri BaseOf(Uri loginUrl) => new(loginUrl.GetLeftPart(UriPartial.Authority));

    /// <summary>Logs in through the CLI; the console's base address.</summary>
    public async Task<Uri> LoginAsync(TestServer server)
    {
        var url = await LoginUrlAsync(server);
        using var response = await GetAsync(url);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Cookie = SessionCookie(response) ?? throw new InvalidOperationException("no session cookie");
        return BaseOf(url);
    }

    /// <summary>The <c>name=value</c> of the session cookie a response sets; null when none.</summary>
    public static string? SessionCookie(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.Select(v => v.Split(';')[0]).FirstOrDefault(v => v.StartsWith("anchorage_console=", StringComparison.Ordinal))
            : null;

    public Task<HttpResponseMessage> GetAsync(Uri url) => SendAsync(HttpMethod.Get, url);

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url)
    {
        using var request = new HttpRequestMessage(method, url);
        if (Cookie is not null)
        {
            request.Headers.Add("Cookie", Cookie);
        }

        return await _http.SendAsync(request);
    }

    /// <summary>GETs <paramref name="path"/>, asserts 200 and returns the parsed JSON.</summary>
    public async Task<JsonElement> JsonAsync(Uri baseUrl, string path)
    {
        using var response = await GetAsync(new Uri(baseUrl, path));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public void Dispose() => _http.Dispose();
}
