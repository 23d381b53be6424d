using System.Net;
using System.Net.Http;
using System.Text.Json;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>
/// The web console's listener, login and JSON API on a real server (issue 16): no session, no
/// data; a login token works once; the API answers from the admin API's views, bounded.
/// </summary>
public sealed class ConsoleApiTests
{
    private const string Csp =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    internal static ServerOptions WithConsole(ServerOptions options) =>
        options with { Console = new ConsoleOptions { Listen = new HostPort("127.0.0.1", 0) } };

    private static async Task<TestServer> StartAsync(TempDir dir) => await TestServer.StartAsync(WithConsole(TestServer.Options(dir.Path)));

    [Fact]
    public async Task Console_NoSession_EveryPath401NoData()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = ConsoleClient.BaseOf(await ConsoleClient.LoginUrlAsync(server));

        foreach (var path in new[] { "/", "/console.js", "/console.css", "/api/graph", "/api/authorities", "/api/entries", "/api/agents", "/api/federations/x.org", "/nothing" })
        {
            using var response = await client.GetAsync(new Uri(baseUrl, path));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal(
                "no console session: run `anchorage console login` on the server and open the URL it prints\n",
                await response.Content.ReadAsStringAsync());
            Assert.Equal(Csp, response.Headers.GetValues("Content-Security-Policy").Single());
        }

        // A made-up cookie is no session either.
        client.Cookie = "anchorage_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        using var forged = await client.GetAsync(new Uri(baseUrl, "/api/graph"));
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
    }

    [Fact]
    public async Task Login_TokenUsedTwice_SecondRefusedFirstSessionWorks()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var url = await ConsoleClient.LoginUrlAsync(server);

        using var first = await client.GetAsync(url);
        using var second = await client.GetAsync(url);

        Assert.Equal(HttpStatusCode.SeeOther, first.StatusCode);
        Assert.Equal("/", first.Headers.Location!.OriginalString);
        var setCookie = first.Headers.GetValues("Set-Cookie").Single();
        Assert.Matches("^anchorage_console=[A-Za-z0-9_-]{43}; max-age=3600; path=/; samesite=strict; httponly$", setCookie);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Null(ConsoleClient.SessionCookie(second));
        Assert.Equal(
            "login token refused: it is unknown, already used or expired; run `anchorage console login` for a new one\n",
            await second.Content.ReadAsStringAsync());

        client.Cookie = ConsoleClient.SessionCookie(first);
        using var page = await client.GetAsync(new Uri(ConsoleClient.BaseOf(url), "/"));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task Login_CliPrintsUrl_OnConsoleListenerWithRealPort()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);

        var json = await server.CliAsync("console", "login", "--output", "json");
        var url = await ConsoleClient.LoginUrlAsync(server);

        Assert.True(json.ExitCode == 0, json.Error);
        using var login = JsonDocument.Parse(json.Out);
        Assert.StartsWith("http://127.0.0.1:", login.RootElement.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Matches("^http://127\\.0\\.0\\.1:[0-9]+/login\\?token=[A-Za-z0-9_-]{43}$", url.ToString());
        Assert.NotEqual(0, url.Port);
    }

    [Fact]
    public async Task Login_NoConsoleConfigured_CliSaysHowToEnable()
    {
        await using var server = await TestServer.StartAsync();

        var result = await server.CliAsync("console", "login");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("the web console is not enabled: set console.listen in server.yaml", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Console_WithSession_HeadersAssetsAndReadOnly()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);

        foreach (var (path, type) in new[] { ("/", "text/html"), ("/console.js", "text/javascript"), ("/console.css", "text/css"), ("/api/graph", "application/json") })
        {
            using var response = await client.GetAsync(new Uri(baseUrl, path));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith(type, response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
            Assert.Equal(Csp, response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        }

        // The page loads only its own script and stylesheet: no inline code, nothing from elsewhere.
        var html = await (await client.GetAsync(baseUrl)).Content.ReadAsStringAsync();
        Assert.DoesNotContain("style=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "<script"));
        Assert.Contains("<script src=\"/console.js\" defer></script>", html, StringComparison.Ordinal);

        using var post = await client.SendAsync(HttpMethod.Post, new Uri(baseUrl, "/api/graph"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(["GET", "HEAD"], post.Content.Headers.Allow);
        using var missing = await client.GetAsync(new Uri(baseUrl, "/api/nothing"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("{\"error\":\"no console api at /api/nothing\"}", await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Listeners_ConsoleAndHealth_NeitherServesTheOther()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);

        using var live = await client.GetAsync(new Uri(baseUrl, "/live"));
        using var http = new HttpClient();
        using var healthRoot = await http.GetAsync(new Uri($"http://127.0.0.1:{server.Server.Host.HealthEndpoint.Port}/api/graph"));

        Assert.Equal(HttpStatusCode.NotFound, live.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, healthRoot.StatusCode);
    }

    [Fact]
    public async Task Api_Authorities_RevokedListedMarked_OnlyWhenAskedFor()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);
        var prepared = await server.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "jwt" });
        var revokedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await server.Admin.RevokeAuthorityAsync(new AuthorityRequest { Kind = "jwt", Id = prepared.Id });

        var json = await client.JsonAsync(baseUrl, "/api/authorities");
        var plain = await server.Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest());
        var x509Only = await server.Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509", IncludeRevoked = true });

        var revoked = Assert.Single(json.GetProperty("authorities").EnumerateArray(), a => a.GetProperty("id").GetString() == prepared.Id);
        Assert.Equal(("jwt", "revoked"), (revoked.GetProperty("kind").GetString(), revoked.GetProperty("state").GetString()));
        Assert.InRange(long.Parse(revoked.GetProperty("revokedAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture), revokedAt - 5, revokedAt + 60);
        Assert.Equal(prepared.NotAfter.ToString(System.Globalization.CultureInfo.InvariantCulture), revoked.GetProperty("notAfter").GetString());
        // Without include_revoked (the CLI's authority list) and for the other kind: not there.
        Assert.DoesNotContain(plain.Authorities, a => a.Id == prepared.Id);
        Assert.DoesNotContain(x509Only.Authorities, a => a.Id == prepared.Id || a.State == "revoked");
    }

    [Fact]
    public async Task Api_Authorities_LocalX509AndJwtWithoutCertificates()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);
        var expected = await server.Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest());

        var json = await client.JsonAsync(baseUrl, "/api/authorities");

        var authorities = json.GetProperty("authorities").EnumerateArray().ToList();
        Assert.Equal(expected.Authorities.Select(a => (a.Kind, a.Id, a.State)), authorities.Select(a => (a.GetProperty("kind").GetString()!, a.GetProperty("id").GetString()!, a.GetProperty("state").GetString()!)));
        Assert.Contains(authorities, a => a.GetProperty("kind").GetString() == "x509" && a.GetProperty("state").GetString() == "active");
        Assert.Contains(authorities, a => a.GetProperty("kind").GetString() == "jwt" && a.GetProperty("state").GetString() == "active");
        Assert.All(authorities, a => Assert.Equal(string.Empty, a.GetProperty("certificate").GetString()));
        Assert.Equal(expected.Authorities[0].NotAfter.ToString(System.Globalization.CultureInfo.InvariantCulture), authorities[0].GetProperty("notAfter").GetString());
    }

    [Fact]
    public async Task Api_Entries_SearchAndLimitBounded()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);
        var parent = SpiffeId.FromPath(TestServer.Td, "/node/n1");
        var request = new CreateEntriesRequest();
        for (var i = 0; i < 12; i++)
        {
            var entry = new Common.Entry { SpiffeId = $"spiffe://acme.corp/{(i < 3 ? "billing" : "web")}/{i}", ParentId = parent.ToString() };
            entry.Selectors.Add(new Common.Selector { Type = "unix", Value = $"uid:{1000 + i}" });
            request.Entries.Add(entry);
        }

        Assert.All((await server.Admin.CreateEntriesAsync(request)).Results, r => Assert.Equal(0, r.ErrorCode));

        var all = await client.JsonAsync(baseUrl, "/api/entries");
        var billing = await client.JsonAsync(baseUrl, "/api/entries?q=BILLING");
        var bySelector = await client.JsonAsync(baseUrl, "/api/entries?q=uid:1011");
        var limited = await client.JsonAsync(baseUrl, "/api/entries?q=web&limit=4");

        Assert.Equal(12, all.GetProperty("entries").GetArrayLength());
        Assert.False(all.GetProperty("truncated").GetBoolean());
        Assert.Equal(["spiffe://acme.corp/billing/0", "spiffe://acme.corp/billing/1", "spiffe://acme.corp/billing/2"], billing.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("spiffeId").GetString()!).Order(StringComparer.Ordinal));
        Assert.Equal("spiffe://acme.corp/web/11", bySelector.GetProperty("entries").EnumerateArray().Single().GetProperty("spiffeId").GetString());
        Assert.Equal(4, limited.GetProperty("entries").GetArrayLength());
        Assert.True(limited.GetProperty("truncated").GetBoolean());

        foreach (var (query, message) in new[]
        {
            ("limit=0", "limit: must be a number from 1 to 500"),
            ("limit=501", "limit: must be a number from 1 to 500"),
            ("limit=-1", "limit: must be a number from 1 to 500"),
            ("q=" + new string('a', 201), "q: at most 200 characters"),
        })
        {
            using var response = await client.GetAsync(new Uri(baseUrl, "/api/entries?" + query));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal($"{{\"error\":\"{message}\"}}", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Api_AgentsAndGraph_ShapesFromAdminViews()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);

        var agents = await client.JsonAsync(baseUrl, "/api/agents?q=nobody");
        var graph = await client.JsonAsync(baseUrl, "/api/graph");
        using var unknown = await client.GetAsync(new Uri(baseUrl, "/api/federations/payments.acme.corp"));
        using var malformed = await client.GetAsync(new Uri(baseUrl, "/api/federations/Not%20A%20Domain"));

        Assert.Equal(0, agents.GetProperty("agents").GetArrayLength());
        Assert.False(agents.GetProperty("truncated").GetBoolean());
        Assert.Equal("acme.corp", graph.GetProperty("trustDomain").GetString());
        Assert.Equal("acme.corp", graph.GetProperty("server").GetProperty("trustDomain").GetString());
        Assert.Equal(0, graph.GetProperty("federations").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("{\"error\":\"no federation relationship with trust domain \\u0022payments.acme.corp\\u0022\"}", await unknown.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Api_Graph_TwoDomains_PendingThenUnusedThenApproved()
    {
        await using var domains = await Federation.TwoDomains.StartAsync(configureAcme: WithConsole);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(domains.Acme);
        var payments = Federation.TwoDomains.PaymentsTd;

        await domains.ApplyAsync(domains.Acme, payments, domains.Payments, approve: false);
        var pending = await EdgeAsync(client, baseUrl);
        var approved = await domains.Acme.CliAsync("federation", "approve", payments.Name, "--note", "console test");
        Assert.True(approved.ExitCode == 0, approved.Error);
        var unused = await EdgeAsync(client, baseUrl);
        await Agent.NodeParts.EntryAsync(domains.Acme, SpiffeId.FromPath(TestServer.Td, "/node/n1"), "/billing", ["unix:uid:1000"], [payments]);
        var used = await EdgeAsync(client, baseUrl);
        var page = await client.JsonAsync(baseUrl, "/api/federations/" + payments.Name);

        Assert.Equal(("pending", "pending"), (pending.GetProperty("edgeState").GetString(), pending.GetProperty("status").GetProperty("approval").GetString()));
        Assert.Equal(("unused", "approved"), (unused.GetProperty("edgeState").GetString(), unused.GetProperty("status").GetProperty("approval").GetString()));
        Assert.Equal("approved", used.GetProperty("edgeState").GetString());
        Assert.Equal("1", used.GetProperty("status").GetProperty("federatingEntries").GetString());
        Assert.Equal("platform@acme.corp", page.GetProperty("federation").GetProperty("status").GetProperty("owner").GetString());
        Assert.Equal("approved", page.GetProperty("federation").GetProperty("edgeState").GetString());
    }

    private static async Task<JsonElement> EdgeAsync(ConsoleClient client, Uri baseUrl)
    {
        var graph = await client.JsonAsync(baseUrl, "/api/graph");
        return graph.GetProperty("federations").EnumerateArray().Single();
    }

    [Fact]
    public async Task Api_Agents_RealAgent_ListedSearchableLimited()
    {
        using var dir = new TempDir();
        await using var server = await StartAsync(dir);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(server);
        var (token, agentId) = await Agent.TestAgent.TokenAsync(server);
        await using var agent = await Agent.TestAgent.StartAsync(server, token);
        var (_, unredeemed) = await Agent.TestAgent.TokenAsync(server);

        var all = await client.JsonAsync(baseUrl, "/api/agents");
        var byId = await client.JsonAsync(baseUrl, "/api/agents?q=" + Uri.EscapeDataString(agentId.Path.ToUpperInvariant()));
        var none = await client.JsonAsync(baseUrl, "/api/agents?q=" + Uri.EscapeDataString(unredeemed.Path));
        var limited = await client.JsonAsync(baseUrl, "/api/agents?limit=1");

        var listed = all.GetProperty("agents").EnumerateArray().Single();
        Assert.Equal(agentId.ToString(), listed.GetProperty("spiffeId").GetString());
        Assert.Equal("join_token", listed.GetProperty("attestationType").GetString());
        Assert.False(listed.GetProperty("banned").GetBoolean());
        Assert.Equal(agentId.ToString(), byId.GetProperty("agents").EnumerateArray().Single().GetProperty("spiffeId").GetString());
        Assert.Equal(0, none.GetProperty("agents").GetArrayLength());
        Assert.Equal(1, limited.GetProperty("agents").GetArrayLength());
        Assert.False(limited.GetProperty("truncated").GetBoolean());
    }
}
