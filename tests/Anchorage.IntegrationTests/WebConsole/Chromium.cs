using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>
/// Headless Debian Chromium driven by Debian's chromedriver over the W3C WebDriver HTTP protocol
/// (no browser download, no Selenium): one browser session per instance, a 1280x800 window, its
/// own profile directory. Screenshots go to <see cref="ArtifactDir"/> under the test output.
/// </summary>
internal sealed class Chromium : IAsyncDisposable
{
    public const string Browser = "/usr/bin/chromium";
    public const string Driver = "/usr/bin/chromedriver";
    private const string ElementKey = "element-6066-11e4-a52e-4f735466cecf";

    private readonly ChildProcess _driver;
    private readonly HttpClient _http;
    private readonly TempDir _profile;
    private readonly string _session;

    private Chromium(ChildProcess driver, HttpClient http, TempDir profile, string session)
    {
        _driver = driver;
        _http = http;
        _profile = profile;
        _session = session;
    }

    /// <summary>Where screenshots are written: <c>&lt;test output&gt;/artifacts/console</c>.</summary>
    public static string ArtifactDir { get; } = Path.Combine(AppContext.BaseDirectory, "artifacts", "console");

    public static async Task<Chromium> StartAsync()
    {
        Assert.True(
            File.Exists(Browser) && File.Exists(Driver),
            $"the console's browser tests need Debian's chromium and chromium-driver ({Browser}, {Driver}): apt-get install chromium chromium-driver");
        var port = LoopbackPort.Unused();
        var driver = ChildProcess.Start(Driver, $"--port={port}", "--allowed-ips=127.0.0.1");
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
        var profile = new TempDir();
        try
        {
            await Eventually.TrueAsync(
                async () =>
                {
                    try
                    {
                        using var status = await http.GetAsync("status");
                        return status.IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        return false;
                    }
                },
                "chromedriver to answer /status");
            var capabilities = new JsonObject
            {
                ["capabilities"] = new JsonObject
                {
                    ["alwaysMatch"] = new JsonObject
                    {
                        ["browserName"] = "chrome",
                        ["goog:loggingPrefs"] = new JsonObject { ["browser"] = "ALL" },
                        ["goog:chromeOptions"] = new JsonObject
                        {
                            ["binary"] = Browser,
                            ["args"] = new JsonArray(
                                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                "--user-data-dir=" + profile.Path),
                        },
                    },
                },
            };
            using var response = await http.PostAsync("session", Json(capabilities));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, "chromedriver refused a session: " + body);
            var session = JsonNode.Parse(body)!["value"]!["sessionId"]!.GetValue<string>();
            return new Chromium(driver, http, profile, session);
        }
        catch
        {
            http.Dispose();
            driver.Dispose();
            profile.Dispose();
            throw;
        }
    }

    public Task GoAsync(Uri url) => CommandAsync(HttpMethod.Post, "url", new JsonObject { ["url"] = url.ToString() });

    public async Task<string> UrlAsync() => (await CommandAsync(HttpMethod.Get, "url")).GetString()!;

    /// <summary>The page's visible text.</summary>
    public async Task<string> TextAsync() => (await ScriptAsync("return document.body ? document.body.innerText : '';")).GetString()!;

    /// <summary>Runs <paramref name="script"/> in the page (as a function body) and returns its value.</summary>
    public Task<JsonElement> ScriptAsync(string script, params object[] args) =>
        CommandAsync(HttpMethod.Post, "execute/sync", new JsonObject { ["script"] = script, ["args"] = JsonSerializer.SerializeToNode(args) });

    /// <summary>The id of the first element matching <paramref name="css"/>; null when none.</summary>
    public async Task<string?> FindAsync(string css)
    {
        var found = await CommandAsync(HttpMethod.Post, "elements", new JsonObject { ["using"] = "css selector", ["value"] = css });
        return found.GetArrayLength() == 0 ? null : found[0].GetProperty(ElementKey).GetString();
    }

    /// <summary>Waits (30 s) for an element matching <paramref name="css"/>; its id.</summary>
    public Task<string> WaitForAsync(string css) =>
        Eventually.ValueAsync(() => FindAsync(css), $"an element matching {css}");

    public Task ClickAsync(string element) => CommandAsync(HttpMethod.Post, $"element/{element}/click", new JsonObject());

    public Task TypeAsync(string element, string text) => CommandAsync(HttpMethod.Post, $"element/{element}/value", new JsonObject { ["text"] = text });

    /// <summary>Presses and releases one key (WebDriver key codes, e.g. <c>\uE004</c> Tab, <c>\uE007</c> Enter).</summary>
    public Task KeyAsync(string key) => CommandAsync(HttpMethod.Post, "actions", new JsonObject
    {
        ["actions"] = new JsonArray(new JsonObject
        {
            ["type"] = "key",
            ["id"] = "keyboard",
            ["actions"] = new JsonArray(new JsonObject { ["type"] = "keyDown", ["value"] = key }, new JsonObject { ["type"] = "keyUp", ["value"] = key }),
        }),
    });

    public Task DeleteCookiesAsync() => CommandAsync(HttpMethod.Delete, "cookie");

    /// <summary>The cookies the browser holds for the current page, as WebDriver reports them.</summary>
    public Task<JsonElement> CookiesAsync() => CommandAsync(HttpMethod.Get, "cookie");

    public Task WindowAsync(int width, int height) =>
        CommandAsync(HttpMethod.Post, "window/rect", new JsonObject { ["width"] = width, ["height"] = height });

    /// <summary>The browser's console messages since the last call (CSP violations show up here).</summary>
    public async Task<IReadOnlyList<string>> BrowserLogAsync()
    {
        var log = await CommandAsync(HttpMethod.Post, "se/log", new JsonObject { ["type"] = "browser" });
        return [.. log.EnumerateArray().Select(e => e.GetProperty("level").GetString() + " " + e.GetProperty("message").GetString())];
    }

    /// <summary>Saves a PNG of the window as <c>&lt;ArtifactDir&gt;/&lt;name&gt;.png</c>; its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var png = Convert.FromBase64String((await CommandAsync(HttpMethod.Get, "screenshot")).GetString()!);
        Directory.CreateDirectory(ArtifactDir);
        var path = Path.Combine(ArtifactDir, name + ".png");
        await File.WriteAllBytesAsync(path, png);
        Assert.True(png.Length > 1000 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', $"screenshot {name} is not a PNG");
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"session/{_session}");
            using var response = await _http.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The driver is killed below either way.
        }

        _http.Dispose();
        await _driver.KillAsync();
        _driver.Dispose();
        _profile.Dispose();
    }

    private async Task<JsonElement> CommandAsync(HttpMethod method, string path, JsonObject? body = null)
    {
        using var request = new HttpRequestMessage(method, $"session/{_session}/{path}");
        if (body is not null)
        {
            request.Content = Json(body);
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"webdriver {method} {path}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("value").Clone();
    }

    // With a Content-Length: chromedriver's HTTP server resets a chunked request.
    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
}
