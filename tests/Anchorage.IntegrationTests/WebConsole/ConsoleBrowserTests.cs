using System.Text.Json;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>
/// The web console in headless Chromium (issue 16): the login flow, the trust graph of a real
/// two-domain set-up, an edge turning stale live when the peer's bundle endpoint stops, the relationship
/// page with the enforcement map of a real agent and entry, the agents page
/// with a real agent and its search, the authorities timeline with a prepared, active, old, tainted and
/// revoked authority, the pages
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

        // An entry that federates with payments, on a real agent: the relationship is used, approved, fresh.
        // The agent holds the payments bundle; a policy rule names payments; the agent reports traffic
        // (what its Workload API records when it validates a payments JWT-SVID).
        var (token, agentId) = await TestAgent.TokenAsync(domains.Acme);
        await using var agent = await TestAgent.StartAsync(domains.Acme, token);
        await NodeParts.EntryAsync(domains.Acme, agentId, "/billing", ["unix:uid:1000"], [TwoDomains.PaymentsTd]);
        var policyFile = Path.Combine(domains.Dir.Path, "policy.yaml");
        await File.WriteAllTextAsync(policyFile, ConsoleMapApiTests.Policy);
        Assert.Equal(0, (await domains.Acme.CliAsync("policy", "apply", "-f", policyFile)).ExitCode);
        agent.Agent.Usage!.Record(TwoDomains.PaymentsTd, "inbound", allowed: true, Anchorage.Agent.Node.UsageRecorder.WorkloadApiListener);
        using var api = new ConsoleClient();
        var baseUrl = await api.LoginAsync(domains.Acme);
        var graph = default(JsonElement);
        await Eventually.TrueAsync(
            async () =>
            {
                graph = await api.JsonAsync(baseUrl, "/api/graph");
                var status = graph.GetProperty("federations")[0].GetProperty("status");
                return graph.GetProperty("federations")[0].GetProperty("edgeState").GetString() == "approved"
                    && status.GetProperty("usage").GetArrayLength() == 1 && status.GetProperty("held").GetArrayLength() == 1;
            },
            () => "the api to show the payments edge approved, its traffic and the agent holding its bundle: " + graph);
        var sequence = graph.GetProperty("federations")[0].GetProperty("status").GetProperty("sequence").GetString();
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
        // Owner, sequence, age, last refresh error and observed traffic of the selected edge.
        var box = (await browser.ScriptAsync("return document.getElementById('edge-details').innerText;")).GetString()!;
        foreach (var line in new[] { "Owner\tplatform@acme.corp", "Sequence\t" + sequence, "Last refresh\t", "Last error\tnone", "Traffic\toutbound: none; inbound: 1 allowed" })
        {
            Assert.Contains(line, box.Replace("\n", "\t", StringComparison.Ordinal), StringComparison.Ordinal);
        }

        // Six edge states, each with its own colour in the legend the edges are drawn with.
        var swatches = (await browser.ScriptAsync(
            "return Array.from(document.querySelectorAll('#legend .swatch')).map(s => s.className.replace('swatch edge-', '') + '=' + getComputedStyle(s).backgroundColor);")).EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(["approved", "pending", "review-due", "stale", "slow-revocation", "unused"], swatches.Select(x => x.Split('=')[0]));
        Assert.Equal(6, swatches.Select(x => x.Split('=')[1]).Distinct().Count());
        Assert.True(await FitsAsync(browser), "the graph page scrolls sideways at 1280x800");
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
        // Every field `federation show` prints that the page labels itself.
        foreach (var label in new[] { "Extra CA roots", "Connections seen", "Approved authorities", "Review every", "Unused after", "Clock skew", "Rotation without overlap" })
        {
            Assert.Contains(label, await browser.TextAsync(), StringComparison.Ordinal);
        }

        // The enforcement map (what `federation map` shows): the agent holding the served sequence, the
        // entry on its node, the rule naming payments (not the local one), the agent's reported traffic.
        await browser.WaitForAsync($"#map-agents tbody tr[data-agent='{agentId}'][data-held='{sequence}']");
        await browser.WaitForAsync("#map-entries tbody tr[data-entry]");
        await browser.WaitForAsync("#map-rules tbody tr[data-rule='billing-to-payments']");
        await browser.WaitForAsync($"#map-gates tbody tr[data-gate='{agentId} inbound']");
        Assert.Equal(0, (await browser.ScriptAsync("return document.querySelectorAll(\"#map-rules tr[data-rule='billing-to-db']\").length;")).GetInt32());
        var map = (await browser.ScriptAsync("return document.getElementById('federation-map').innerText;")).GetString()!;
        Assert.Contains("1 agent(s) receive the bundle, 1 holding sequence " + sequence + ". Policy: mode enforce.", map, StringComparison.Ordinal);
        Assert.Contains("spiffe://acme.corp/billing\t" + agentId, map, StringComparison.Ordinal);
        Assert.Contains("workload-api", map, StringComparison.Ordinal);
        Assert.True(await FitsAsync(browser), "the relationship page scrolls sideways at 1280x800");
        await browser.ScreenshotAsync("relationship-stale");
        await browser.ScriptAsync("window.scrollTo(0, document.getElementById('federation-map').offsetTop);");
        await browser.ScreenshotAsync("relationship-map");

        // Keyboard: from the page's top, Tab reaches the way back to the graph; Enter follows it.
        await browser.ScriptAsync("document.activeElement.blur(); document.getElementById('main').focus();");
        var back = false;
        for (var i = 0; i < 12 && !back; i++)
        {
            await browser.KeyAsync(Tab);
            back = (await browser.ScriptAsync("return document.activeElement.getAttribute('href') || '';")).GetString() == "#/graph"
                && (await browser.ScriptAsync("return document.activeElement.closest('main') !== null;")).GetBoolean();
        }

        Assert.True(back, "Tab never reached the link back to the trust graph");
        await browser.KeyAsync(Enter);
        await browser.WaitForAsync(edge + "[data-edge-state='stale']");

        // The relationship page on a narrow window: no sideways scroll, the map still there.
        await browser.WindowAsync(480, 800);
        await browser.GoAsync(new Uri(baseUrl, "/#/federation/" + payments));
        await browser.WaitForAsync($"#map-agents tbody tr[data-agent='{agentId}']");
        Assert.True(await FitsAsync(browser), "the relationship page scrolls sideways at 480 px");
        await browser.ScreenshotAsync("relationship-narrow-480");
        await browser.WindowAsync(1280, 800);

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
        Assert.True(await FitsAsync(browser), "the graph page scrolls sideways at 480 px");
        await browser.ScreenshotAsync("graph-narrow-480");

        // Nothing on any page broke the CSP or failed to load.
        var log = await browser.BrowserLogAsync();
        Assert.DoesNotContain(log, l => l.Contains("Content Security Policy", StringComparison.Ordinal) || l.Contains("Refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agents_And_Authorities_Browser_SearchedListAndTimelineOfEveryState()
    {
        using var dir = new TempDir();
        await using var server = await TestServer.StartAsync(ConsoleApiTests.WithConsole(TestServer.Options(dir.Path)));
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await using var agent = await TestAgent.StartAsync(server, token);
        // A prepared X.509 authority, revoked: it leaves the journal and the bundle, and stays on the timeline.
        var prepared = await server.Admin.PrepareAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509" });
        await server.Admin.RevokeAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509", Id = prepared.Id });
        // A forced rotation: the next X.509 authority prepared and activated, the one it replaced (now old) tainted;
        // and a JWT authority left prepared. Every state of the timeline at once.
        await server.Admin.PrepareAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509" });
        var active = await server.Admin.ActivateAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509" });
        var tainted = await server.Admin.TaintAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "x509" });
        var nextJwt = await server.Admin.PrepareAuthorityAsync(new Protos.Admin.V1.AuthorityRequest { Kind = "jwt" });
        Assert.Equal(("active", "old", "prepared"), (active.State, tainted.State, nextJwt.State));
        Assert.True(tainted.Tainted);
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
        await browser.WaitForAsync("#timeline rect.bar-prepared");
        await browser.WaitForAsync("#timeline rect.bar-old.bar-tainted");
        await browser.WaitForAsync($"#authorities-table tr[data-authority='{active.Id}'][data-state='active']");
        await browser.WaitForAsync($"#authorities-table tr[data-authority='{nextJwt.Id}'][data-state='prepared']");
        var taintedRow = (await browser.ScriptAsync($"return document.querySelector(\"#authorities-table tr[data-authority='{tainted.Id}'][data-state='old']\").innerText;")).GetString()!;
        // Kind, state, tainted, not before, not after: the not-after time as the admin API has it.
        var notAfter = DateTimeOffset.FromUnixTimeSeconds(tainted.NotAfter).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.StartsWith("x509\told\ttainted\t", taintedRow, StringComparison.Ordinal);
        Assert.Contains("\t" + notAfter + "\t", taintedRow, StringComparison.Ordinal);
        await browser.ScreenshotAsync("authorities-revoked");

        var log = await browser.BrowserLogAsync();
        Assert.DoesNotContain(log, l => l.Contains("Content Security Policy", StringComparison.Ordinal) || l.Contains("Refused", StringComparison.Ordinal));
    }

    // Whether the page fits the window's width (no sideways scrolling).
    private static async Task<bool> FitsAsync(Chromium browser) =>
        (await browser.ScriptAsync("return document.documentElement.scrollWidth <= window.innerWidth + 1;")).GetBoolean();

    /// <summary>The system clock, moved ahead on demand (a fake, so that a 60 s expiry needs no 60 s wait).</summary>
    private sealed class ShiftedClock : TimeProvider
    {
        private long _offsetTicks;

        public void Shift(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
    }
}
