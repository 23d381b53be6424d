using System.Text.Json;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>
/// The web console in headless Chromium (issue 16): the login flow, the trust graph of a real
/// two-domain set-up, an edge turning stale live when the peer's bundle endpoint stops, the agents page
/// with a real agent and its search, a revoked authority on the timeline, the pages
/// under the strict CSP, screenshots under <c>artifacts/console</c> of the test output.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ConsoleBrowserTests
{
    private const string Tab = "\uE004";
    private const string Enter = "\uE007";

    [Fact]
    public async Task Login_Browser_NoTokenRefusedTokenWorksOnceExpiredRefused()
    {
        using var dir = new TempDir();
        var clock = new ShiftedClock();
        await using var server = await TestServer.StartAsync(ConsoleApiTests.WithConsole(TestServer.Options(dir.Path)), null, clock);
        await using var browser = await Chromium.StartAsync();
        var url = await ConsoleClient.LoginUrlAsync(server);
        var baseUrl = ConsoleClient.BaseOf(url);

        // No token, no cookie: refused, and nothing of the console's data is on the page.
        await browser.GoAsync(baseUrl);
        Assert.Contains("no console session", await browser.TextAsync(), StringComparison.Ordinal);
        await browser.GoAsync(new Uri(baseUrl, "/api/graph"));
        Assert.DoesNotContain("acme.corp", await browser.TextAsync(), StringComparison.Ordinal);
        await browser.ScreenshotAsync("login-no-token");

        // The token: redirected to the console, the graph drawn, the token gone from the address bar.
        await browser.GoAsync(url);
        await browser.WaitForAsync("#graph .node.local[data-td='acme.corp']");
        Assert.Equal(new Uri(baseUrl, "/").ToString(), await browser.UrlAsync());
        var cookie = (await browser.CookiesAsync()).EnumerateArray().Single();
        Assert.Equal(("anchorage_console", true, "Strict", "/"), (
            cookie.GetProperty("name").GetString(), cookie.GetProperty("httpOnly").GetBoolean(),
            cookie.GetProperty("sameSite").GetString(), cookie.GetProperty("path").GetString()));
        Assert.Equal(string.Empty, (await browser.ScriptAsync("return document.cookie;")).GetString());
        await browser.ScreenshotAsync("login-ok-graph");

        // The same token again, even from the logged-in browser: refused.
        await browser.GoAsync(url);
        Assert.Contains("login token refused", await browser.TextAsync(), StringComparison.Ordinal);

        // A fresh token opened after its 60 s: refused, and no session comes of it.
        var late = await ConsoleClient.LoginUrlAsync(server);
        clock.Shift(TimeSpan.FromSeconds(61));
        await browser.DeleteCookiesAsync();
        await browser.GoAsync(late);
        Assert.Contains("login token refused", await browser.TextAsync(), StringComparison.Ordinal);
        await browser.GoAsync(baseUrl);
        Assert.Contains("no console session", await browser.TextAsync(), StringComparison.Ordinal);
        await browser.ScreenshotAsync("login-expired-token");

        // Positive control on the same clock: a token used within its 60 s works.
        await browser.GoAsync(await ConsoleClient.LoginUrlAsync(server));
        await browser.WaitForAsync("#graph .node.local");
    }

    [Fact]
    public async Task Graph_TwoDomains_EdgeApprovedThenStaleWithoutReload()
    {
        await using var domains = await TwoDomains.StartAsync(configureAcme: ConsoleApiTests.WithConsole);
        await domains.FederateBothWaysAsync();
        var payments = TwoDomains.PaymentsTd.Name;

        // An entry that federates with payments: the relationship is used, approved, fresh.
        await NodeParts.EntryAsync(domains.Acme, SpiffeId.FromPath(TwoDomains.AcmeTd, "/node/n1"), "/billing", ["unix:uid:1000"], [TwoDomains.PaymentsTd]);
        using var api = new ConsoleClient();
        var baseUrl = await api.LoginAsync(domains.Acme);
        var graph = default(JsonElement);
        await Eventually.TrueAsync(
            async () =>
            {
                graph = await api.JsonAsync(baseUrl, "/api/graph");
                return graph.GetProperty("federations")[0].GetProperty("edgeState").GetString() == "approved";
            },
            () => "the api to show the payments edge approved: " + graph);
        Assert.Equal(payments, graph.GetProperty("federations")[0].GetProperty("status").GetProperty("trustDomain").GetString());

        await using var browser = await Chromium.StartAsync();
        await browser.GoAsync(await ConsoleClient.LoginUrlAsync(domains.Acme));
        var edge = $"#graph .relationship[data-td='{payments}']";
        await browser.WaitForAsync(edge + "[data-edge-state='approved'] line.edge.edge-approved");
        await browser.WaitForAsync("#graph .node.local[data-td='acme.corp']");
        Assert.Equal(2, (await browser.ScriptAsync("return document.querySelectorAll('#graph .node').length;")).GetInt32());
        // Coloured by the stylesheet's approved colour (#1a7f37).
        Assert.Equal("rgb(26, 127, 55)", (await browser.ScriptAsync("return getComputedStyle(document.querySelector(arguments[0])).stroke;", edge + " line.edge")).GetString());

        // Keyboard: Tab reaches the peer's node; focus shows its details; Enter opens its page.
        var reached = false;
        for (var i = 0; i < 12 && !reached; i++)
        {
            await browser.KeyAsync(Tab);
            reached = (await browser.ScriptAsync("return document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.td || '' : '';")).GetString() == payments;
        }

        Assert.True(reached, "Tab never reached the payments node");
        var details = await browser.TextAsync();
        Assert.Contains("platform@acme.corp", details, StringComparison.Ordinal);
        await browser.ScreenshotAsync("graph-approved-1280x800");

        // The peer's bundle endpoint stops: the edge turns stale on the open page, no reload.
        await browser.ScriptAsync("window.__notReloaded = 'yes';");
        await domains.StopPaymentsAsync();
        await browser.WaitForAsync(edge + "[data-edge-state='stale'] line.edge.edge-stale");
        Assert.Equal("yes", (await browser.ScriptAsync("return window.__notReloaded || 'reloaded';")).GetString());
        await browser.ScreenshotAsync("graph-stale-1280x800");

        // The relationship page, by keyboard from the focused node.
        await browser.ScriptAsync($"document.querySelector(\"#graph .node.peer[data-td='{payments}']\").focus();");
        await browser.KeyAsync(Enter);
        await browser.WaitForAsync("#federation-state[data-edge-state='stale']");
        var page = await browser.TextAsync();
        Assert.Contains("Relationship with " + payments, page, StringComparison.Ordinal);
        Assert.Contains("platform@acme.corp", page, StringComparison.Ordinal);
        Assert.Contains("Worst-case revocation", page, StringComparison.Ordinal);
        // The fetch history (issue 16 item 2): the fetches that worked (not-modified: the bootstrap bundle
        // was already the peer's), and those since the endpoint stopped.
        await browser.WaitForAsync("#fetches-table tbody tr:not([data-outcome='error'])");
        await browser.WaitForAsync("#fetches-table tbody tr[data-outcome='error']");
        Assert.Contains("Sequence changes seen", await browser.TextAsync(), StringComparison.Ordinal);
        await browser.ScreenshotAsync("relationship-stale");

        // Authorities timeline, entries search, agents; then a narrow window.
        await browser.GoAsync(new Uri(baseUrl, "/#/authorities"));
        await browser.WaitForAsync("#timeline rect.bar-active");
        await browser.WaitForAsync("#authorities-table tr[data-authority]");
        await browser.ScreenshotAsync("authorities");
        await browser.GoAsync(new Uri(baseUrl, "/#/entries"));
        await browser.TypeAsync(await browser.WaitForAsync("#entries-q"), "billing");
        await Eventually.TrueAsync(
            async () => (await browser.ScriptAsync("return document.querySelectorAll('#entries-table tbody tr').length;")).GetInt32() == 1
                && (await browser.TextAsync()).Contains("spiffe://acme.corp/billing", StringComparison.Ordinal),
            "the entries search to show the billing entry alone");
        await browser.ScreenshotAsync("entries-search");
        await browser.WindowAsync(480, 800);
        await browser.GoAsync(new Uri(baseUrl, "/#/graph"));
        await browser.WaitForAsync(edge + "[data-edge-state='stale']");
        Assert.True((await browser.ScriptAsync("return document.documentElement.scrollWidth <= window.innerWidth + 1;")).GetBoolean(), "the graph page scrolls sideways at 480 px");
        await browser.ScreenshotAsync("graph-narrow-480");

        // Nothing on any page broke the CSP or failed to load.
        var log = await browser.BrowserLogAsync();
        Assert.DoesNotContain(log, l => l.Contains("Content Security Policy", StringComparison.Ordinal) || l.Contains("Refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agents_And_RevokedAuthority_Browser_SearchedListAndTimeline()
    {
        using var dir = new TempDir();
        await using var server = await TestServer.StartAsync(ConsoleApiTests.WithConsole(TestServer.Options(dir.Path)));
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await using var agent = await TestAgent.StartAsync(server, token);
        // A prepared X.509 authority, revoked: it leaves the journal and the bundle, and stays on the timeline.
        var prepared = await server.Admin.PrepareAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509" });
        await server.Admin.RevokeAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509", Id = prepared.Id });
        await using var browser = await Chromium.StartAsync();
        await browser.GoAsync(await ConsoleClient.LoginUrlAsync(server));
        await browser.WaitForAsync("#graph .node.local");
        var baseUrl = ConsoleClient.BaseOf(new Uri(await browser.UrlAsync()));

        // The agents page: the real agent listed with its attestation type.
        await browser.GoAsync(new Uri(baseUrl, "/#/agents"));
        await Eventually.TrueAsync(
            async () => (await browser.ScriptAsync("return document.querySelectorAll('#agents-table tbody tr').length;")).GetInt32() == 1
                && (await browser.TextAsync()).Contains(agentId.ToString(), StringComparison.Ordinal),
            "the agents page to list the attested agent");
        Assert.Contains("join_token", await browser.TextAsync(), StringComparison.Ordinal);
        await browser.ScreenshotAsync("agents");

        // A search that matches nothing empties the list; one that matches (any case) brings it back.
        var box = await browser.WaitForAsync("#agents-q");
        await browser.TypeAsync(box, "no-such-agent");
        await Eventually.TrueAsync(
            async () => (await browser.ScriptAsync("return document.querySelectorAll('#agents-table tbody tr').length;")).GetInt32() == 0
                && (await browser.TextAsync()).Contains("0 matches", StringComparison.Ordinal),
            "the agents search to match nothing");
        await browser.ScriptAsync("const q = document.getElementById('agents-q'); q.value = ''; q.dispatchEvent(new Event('input'));");
        await browser.TypeAsync(box, agentId.Path.ToUpperInvariant());
        await Eventually.TrueAsync(
            async () => (await browser.ScriptAsync("return document.querySelectorAll('#agents-table tbody tr').length;")).GetInt32() == 1,
            "the agents search by its path in capitals to find the agent");
        await browser.ScreenshotAsync("agents-search");

        // The authorities timeline: the revoked one drawn (dashed) with the active ones, its row marked.
        await browser.GoAsync(new Uri(baseUrl, "/#/authorities"));
        await browser.WaitForAsync("#timeline rect.bar-active");
        await browser.WaitForAsync("#timeline rect.bar-revoked");
        await browser.WaitForAsync($"#authorities-table tr[data-authority='{prepared.Id}'][data-state='revoked']");
        await browser.ScreenshotAsync("authorities-revoked");

        var log = await browser.BrowserLogAsync();
        Assert.DoesNotContain(log, l => l.Contains("Content Security Policy", StringComparison.Ordinal) || l.Contains("Refused", StringComparison.Ordinal));
    }

    /// <summary>The system clock, moved ahead on demand (a fake, so that a 60 s expiry needs no 60 s wait).</summary>
    private sealed class ShiftedClock : TimeProvider
    {
        private long _offsetTicks;

        public void Shift(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
    }
}
