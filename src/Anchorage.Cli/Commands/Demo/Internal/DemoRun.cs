using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Files;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;

namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>
/// One run of <c>anchorage demo</c>: a list of named steps, each with a check, over two trust
/// domains started as child processes in a temporary directory. The first step that does not
/// behave stops the run; everything it started is stopped and the directory removed either way.
/// </summary>
internal sealed partial class DemoRun : IAsyncDisposable
{
    public const string Acme = "acme.corp";
    public const string Payments = "payments.acme.corp";
    public const string WebId = "spiffe://acme.corp/web";
    public const string BatchId = "spiffe://acme.corp/batch";
    public const string ApiId = "spiffe://payments.acme.corp/api";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromSeconds(60);

    private readonly CliContext _context;
    private readonly DemoConsole _console;
    private readonly DemoOptions _options;
    private readonly List<ChildProcess> _children = [];
    private readonly SelfCommand _anchorage = SelfCommand.Anchorage();
    private readonly uint _uid = OwnUid();
    private readonly string _dir;

    private Domain? _acme;
    private Domain? _payments;
    private Node? _web;
    private Node? _batch;
    private Node? _api;
    private ChildProcess? _service;
    private string _workloadExe = string.Empty;
    private int _inboundPort;
    private readonly List<(int Pid, string What)> _rogues = [];
    private int _allowedPid;
    private TransparentDemo? _transparent;
    private string _transparentSkipped = string.Empty;

    public DemoRun(CliContext context, DemoOptions options)
    {
        _context = context;
        _options = options;
        _console = new DemoConsole(context.Out);
        _dir = Directory.CreateTempSubdirectory("anchorage-demo-").FullName;

        // The rogue may run as nobody; it must reach the gate's socket under this directory.
        Chmod(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    private Domain AcmeDomain => _acme ?? throw new InvalidOperationException("acme.corp is not running");

    private Domain PaymentsDomain => _payments ?? throw new InvalidOperationException("payments.acme.corp is not running");

    private Node Web => _web ?? throw new InvalidOperationException("the web node is not running");

    private Node BatchNode => _batch ?? throw new InvalidOperationException("the batch node is not running");

    private Node Api => _api ?? throw new InvalidOperationException("the payments node is not running");

    private int ServiceConnections => _service?.Lines.Count(l => l.StartsWith("connection ", StringComparison.Ordinal)) ?? 0;

    /// <summary>Runs every step; 0 when all behaved, 1 and the failing step's name otherwise.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        (string Name, string Title, Func<CancellationToken, Task<string>> Run)[] steps =
        [
            ("servers", "start a server for acme.corp and one for payments.acme.corp (SQLite, loopback)", StartServersAsync),
            ("federation", "federate them both ways over https_spiffe, bootstrapped from each other's bundle", FederateAsync),
            ("policy", "apply a communication policy in each domain (deny by default)", ApplyPoliciesAsync),
            ("service", "start the payments service (a line echo server) on loopback", StartServiceAsync),
            ("agents", "start an agent per node: acme.corp web node, acme.corp batch node, payments node", StartAgentsAsync),
            ("workloads", "register the workloads and wait for their SVIDs", RegisterWorkloadsAsync),
            ("allowed-call", "web (acme.corp) calls payments through its outbound gate: allowed", AllowedCallAsync),
            ("rogue", "a rogue process uses the same gate socket: denied, and payments never sees it", RogueAsync),
            ("transparent", "an unmodified plain client calls payments' real address through transparent interception; exec after connect is refused", TransparentAsync),
            ("policy-denied", "batch (acme.corp) has a valid SVID, but payments' policy denies it", PolicyDeniedAsync),
            ("rotation", "payments rotates its CA (prepare, activate, taint) while web keeps calling: no failed call", RotationAsync),
            ("revocation", "acme.corp revokes its old authority: an SVID it signed is refused at payments' gate", RevocationAsync),
            ("audit", "the audit trail of the gates", AuditAsync),
            ("inventory", "the inventory of each trust domain", InventoryAsync),
        ];

        _console.Title($"anchorage demo: two trust domains on loopback, working in {_dir}");
        var total = Stopwatch.StartNew();
        for (var i = 0; i < steps.Length; i++)
        {
            var (name, title, run) = steps[i];
            _console.Step(i + 1, steps.Length, title);
            var clock = Stopwatch.StartNew();
            string? failure;
            try
            {
                var detail = _options.Sabotage == name
                    ? throw new DemoStepException("sabotaged on request (--sabotage " + name + ")")
                    : await run(cancellationToken).ConfigureAwait(false);
                _console.Ok(detail, clock.Elapsed);
                continue;
            }
            catch (DemoStepException ex)
            {
                failure = ex.Message;
            }
            catch (CliException ex)
            {
                failure = CliApp.OneLine(ex.Message);
            }
            catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException or InvalidOperationException or FormatException or System.ComponentModel.Win32Exception or System.Security.Cryptography.CryptographicException)
            {
                failure = CliApp.OneLine(ex.Message);
            }

            _console.Fail(failure, clock.Elapsed);
            _console.Done($"demo: step {i + 1} '{name}' failed", success: false);
            await _context.Error.WriteLineAsync($"demo: step '{name}' failed: {failure}").ConfigureAwait(false);
            return ExitCodes.Rejected;
        }

        _console.Done(string.Create(CultureInfo.InvariantCulture, $"demo: every step behaved as expected ({steps.Length} steps, {total.Elapsed.TotalSeconds:0} s)"), success: true);
        return ExitCodes.Success;
    }

    // ---- 1. servers --------------------------------------------------------------------------

    private async Task<string> StartServersAsync(CancellationToken cancellationToken)
    {
        _acme = await StartServerAsync(Acme, cancellationToken).ConfigureAwait(false);
        _payments = await StartServerAsync(Payments, cancellationToken).ConfigureAwait(false);
        await WaitHealthyAsync(AcmeDomain, cancellationToken).ConfigureAwait(false);
        await WaitHealthyAsync(PaymentsDomain, cancellationToken).ConfigureAwait(false);
        return $"both healthy; bundle endpoints https_spiffe on {DemoEndpoint.Loopback(AcmeDomain.BundlePort)} and {DemoEndpoint.Loopback(PaymentsDomain.BundlePort)}";
    }

    private async Task<Domain> StartServerAsync(string td, CancellationToken cancellationToken)
    {
        _ = cancellationToken;
        var dir = Path.Combine(_dir, td, "server");
        MakeDirectory(dir);
        var bundlePort = DemoEndpoint.FreeLoopbackPort();
        var config = Path.Combine(dir, "server.yaml");
        await WriteFileAsync(config, $"""
            trustDomain: {td}
            dataDir: {dir}/data
            listen:
              agentApi: {DemoEndpoint.Loopback(DemoEndpoint.FreeLoopbackPort())}
              health: {DemoEndpoint.Loopback(DemoEndpoint.FreeLoopbackPort())}
            ca:
              caTtl: 720h
            bundle:
              refreshHint: 2s
            federation:
              refreshFloor: 1s
              bundleEndpoint:
                listen: {DemoEndpoint.Loopback(bundlePort)}
                profile: https_spiffe
            adminUids: [{_uid}]

            """, cancellationToken).ConfigureAwait(false);
        var server = Start($"the {td} server", _anchorage, ["server", "run", "--config", config], Path.Combine(dir, "server.log"));
        _console.Command($"anchorage server run --config {Short(config)}", $"pid {server.Pid}");
        return new Domain(td, dir, Path.Combine(dir, "data", "admin.sock"), bundlePort, server);
    }

    private async Task WaitHealthyAsync(Domain domain, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (domain.Server.HasExited)
            {
                throw new DemoStepException($"the {domain.Name} server exited with {domain.Server.ExitCode}: {domain.Server.Tail()}");
            }

            if (File.Exists(domain.AdminSocket))
            {
                try
                {
                    var info = await AdminAsync(domain, (c, o) => c.GetServerInfoAsync(new GetServerInfoRequest(), o), cancellationToken).ConfigureAwait(false);
                    if (info.TrustDomain != domain.Name)
                    {
                        throw new DemoStepException($"the server on {Short(domain.AdminSocket)} says it is {info.TrustDomain}");
                    }

                    var result = await CliAsync(domain, ["server", "healthcheck"], show: false, cancellationToken).ConfigureAwait(false);
                    if (result.ExitCode == 0)
                    {
                        return;
                    }
                }
                catch (CliException)
                {
                    // Not accepting calls yet.
                }
            }

            if (clock.Elapsed > StartTimeout)
            {
                throw new DemoStepException($"the {domain.Name} server was not healthy within {StartTimeout.TotalSeconds:0} s: {domain.Server.Tail()}");
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- 2. federation -----------------------------------------------------------------------

    private async Task<string> FederateAsync(CancellationToken cancellationToken)
    {
        await ApplyFederationAsync(AcmeDomain, PaymentsDomain, "payments-platform@acme.corp", cancellationToken).ConfigureAwait(false);
        await ApplyFederationAsync(PaymentsDomain, AcmeDomain, "identity-team@acme.corp", cancellationToken).ConfigureAwait(false);
        var paymentsSeq = await WaitFederatedAsync(AcmeDomain, PaymentsDomain, cancellationToken).ConfigureAwait(false);
        var acmeSeq = await WaitFederatedAsync(PaymentsDomain, AcmeDomain, cancellationToken).ConfigureAwait(false);
        return $"acme.corp holds payments.acme.corp's bundle (sequence {paymentsSeq}) and payments.acme.corp holds acme.corp's (sequence {acmeSeq}), both fetched from the bundle endpoints";
    }

    private async Task ApplyFederationAsync(Domain local, Domain peer, string owner, CancellationToken cancellationToken)
    {
        var bundle = await AdminAsync(peer, (c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
        var json = Encoding.UTF8.GetString(bundle.SpiffeBundleJson.Span);
        var file = Path.Combine(local.Dir, $"federation-{peer.Name}.yaml");
        await WriteFileAsync(file, $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: {peer.Name}
            spec:
              trustDomain: {peer.Name}
              owner: {owner}
              bundleEndpoint:
                url: https://{DemoEndpoint.Loopback(peer.BundlePort)}/
                profile: https_spiffe
                endpointSPIFFEID: spiffe://{peer.Name}/anchorage/server
                bootstrapBundle: '{json.Replace("'", "''", StringComparison.Ordinal)}'
              maxStaleness: 1m

            """, cancellationToken).ConfigureAwait(false);
        await CliCheckedAsync(local, ["federation", "apply", "-f", file], cancellationToken).ConfigureAwait(false);
        await CliCheckedAsync(local, ["federation", "approve", peer.Name, "--note", "demo: both domains run here"], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until <paramref name="local"/> stores <paramref name="peer"/>'s current bundle (fetched, not bootstrapped); returns its sequence.</summary>
    private static async Task<ulong> WaitFederatedAsync(Domain local, Domain peer, CancellationToken cancellationToken, ulong atLeast = 0)
    {
        var want = Math.Max(atLeast, (await AdminAsync(peer, (c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false)).Sequence);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await AdminAsync(local, (c, o) => c.GetFederationAsync(new GetFederationRequest { TrustDomain = peer.Name }, o), cancellationToken).ConfigureAwait(false);
            if (status.Sequence >= want && status.LastRefresh > 0)
            {
                return status.Sequence;
            }

            if (clock.Elapsed > ConvergeTimeout)
            {
                throw new DemoStepException($"{local.Name} did not fetch {peer.Name}'s bundle sequence {want} within {ConvergeTimeout.TotalSeconds:0} s (it has {status.Sequence}, last error \"{status.LastError}\")");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- 3. policy ---------------------------------------------------------------------------

    private async Task<string> ApplyPoliciesAsync(CancellationToken cancellationToken)
    {
        var acme = await ApplyPolicyAsync(AcmeDomain, $$"""
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: acme-to-payments-api
                  action: allow
                  from: { trustDomain: {{Acme}} }
                  to:   { spiffeId: "{{ApiId}}" }

            """, cancellationToken).ConfigureAwait(false);
        var payments = await ApplyPolicyAsync(PaymentsDomain, $$"""
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: payments }
            spec:
              rules:
                - name: web-to-payments-api
                  action: allow
                  from: { spiffeId: "{{WebId}}" }
                  to:   { spiffeId: "{{ApiId}}" }
                - name: no-batch-payments
                  action: deny
                  from: { spiffeId: "{{BatchId}}" }
                  to:   { trustDomain: {{Payments}} }

            """, cancellationToken).ConfigureAwait(false);
        return $"acme.corp policy version {acme}: its workloads may call {ApiId}; payments.acme.corp policy version {payments}: only {WebId} may, {BatchId} explicitly not";
    }

    private async Task<long> ApplyPolicyAsync(Domain domain, string yaml, CancellationToken cancellationToken)
    {
        var file = Path.Combine(domain.Dir, "policy.yaml");
        await WriteFileAsync(file, yaml, cancellationToken).ConfigureAwait(false);
        _console.Block(yaml);
        if (HasVerb("policy", "apply"))
        {
            await CliCheckedAsync(domain, ["policy", "apply", "-f", file], cancellationToken).ConfigureAwait(false);
        }
        else
        {
            _console.Info($"(admin API ApplyPolicy on {domain.Name})");
            await AdminAsync(domain, (c, o) => c.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = yaml, Source = file }, o), cancellationToken).ConfigureAwait(false);
        }

        var stored = await AdminAsync(domain, (c, o) => c.GetPolicyAsync(new GetPolicyRequest(), o), cancellationToken).ConfigureAwait(false);
        return stored.Version > 0 ? stored.Version : throw new DemoStepException($"{domain.Name} stores no policy after applying one");
    }

    private bool HasVerb(string noun, string verb) =>
        CliApp.BuildRoot(_context).Subcommands.FirstOrDefault(c => c.Name == noun)?.Subcommands.Any(c => c.Name == verb) == true;

    // ---- 3. the payments service -------------------------------------------------------------

    private async Task<string> StartServiceAsync(CancellationToken cancellationToken)
    {
        var port = DemoEndpoint.FreeLoopbackPort();
        var dir = Path.Combine(_dir, Payments, "service");
        MakeDirectory(dir);
        _service = Start("the payments service", _anchorage, ["demo", "serve", "--listen", DemoEndpoint.Loopback(port), "--name", "payments.acme.corp/api"], Path.Combine(dir, "service.log"));
        _console.Command($"anchorage demo serve --listen {DemoEndpoint.Loopback(port)}", $"pid {_service.Pid}");
        var line = await _service.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), StartTimeout, cancellationToken).ConfigureAwait(false);
        _workloadExe = line[(line.IndexOf(" exe=", StringComparison.Ordinal) + " exe=".Length)..];
        ServicePort = port;
        return $"listening on {DemoEndpoint.Loopback(port)}; the workloads run as {_workloadExe}, uid {_uid}";
    }

    private int ServicePort { get; set; }

    // ---- 4. agents ---------------------------------------------------------------------------

    private async Task<string> StartAgentsAsync(CancellationToken cancellationToken)
    {
        _inboundPort = DemoEndpoint.FreeLoopbackPort();
        var target = DemoEndpoint.Loopback(_inboundPort);
        _transparent = TransparentDemo.TryCreate(_dir, _uid, out _transparentSkipped);
        _web = await StartAgentAsync(
            AcmeDomain,
            "web-node",
            Outbound(target) + (_transparent?.GateYaml(_inboundPort, ApiId) ?? string.Empty),
            cancellationToken,
            _transparent?.AttestationYaml()).ConfigureAwait(false);
        _batch = await StartAgentAsync(AcmeDomain, "batch-node", Outbound(target), cancellationToken).ConfigureAwait(false);
        _api = await StartAgentAsync(PaymentsDomain, "api-node", Inbound(), cancellationToken).ConfigureAwait(false);
        foreach (var node in (Node[])[Web, BatchNode, Api])
        {
            await WaitAgentHealthyAsync(node, cancellationToken).ConfigureAwait(false);
        }

        return $"three agents attested with join tokens: {Web.AgentId}, {BatchNode.AgentId}, {Api.AgentId}; payments' inbound gate on {target}";
    }

    private static string Outbound(string target) => $"""
          outbound:
            - name: payments
              listen: unix://@OUT@/payments.sock
              target: {target}
              peer: {ApiId}
        """;

    private string Inbound() => $"""
          inbound:
            - name: api
              listen: tcp://{DemoEndpoint.Loopback(_inboundPort)}
              forward: {DemoEndpoint.Loopback(ServicePort)}
        """;

    private async Task<Node> StartAgentAsync(Domain domain, string name, string gate, CancellationToken cancellationToken, string? attestation = null)
    {
        var token = await AdminAsync(domain, (c, o) => c.GenerateJoinTokenAsync(new GenerateJoinTokenRequest(), o), cancellationToken).ConfigureAwait(false);
        var dir = Path.Combine(_dir, domain.Name, name);
        var outDir = Path.Combine(dir, "out");
        MakeDirectory(outDir);
        var traversable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        Chmod(Path.Combine(_dir, domain.Name), traversable);
        Chmod(dir, traversable);
        Chmod(outDir, traversable);
        var bundle = await AdminAsync(domain, (c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
        var bundleFile = Path.Combine(dir, "bootstrap-bundle.json");
        await SafeFile.WriteAsync(bundleFile, bundle.SpiffeBundleJson.Memory, SafeFile.PublicMode, cancellationToken).ConfigureAwait(false);
        var audit = Path.Combine(dir, "audit.jsonl");
        var config = Path.Combine(dir, "agent.yaml");
        var serverAddress = await ServerAddressAsync(domain).ConfigureAwait(false);
        var gateSection = "gate:\n" + $"  audit: {{ file: {audit} }}\n  closeOnRevoke: true\n" + gate.Replace("@OUT@", outDir, StringComparison.Ordinal);
        await WriteFileAsync(config, $"""
            trustDomain: {domain.Name}
            dataDir: {dir}/data
            serverAddress: {serverAddress}
            joinToken: {token.Token}
            trustBundleFile: {bundleFile}
            syncInterval: 1s
            workloadApi:
              socket: {dir}/api.sock
            listen:
              health: {DemoEndpoint.Loopback(DemoEndpoint.FreeLoopbackPort())}
            adminUids: [{_uid}]
            {attestation}
            {gateSection}
            """, cancellationToken).ConfigureAwait(false);
        var agent = Start($"the {domain.Name} agent on {name}", _anchorage, ["agent", "run", "--config", config], Path.Combine(dir, "agent.log"));
        _console.Command($"anchorage agent run --config {Short(config)}", $"pid {agent.Pid}, joins as {token.AgentSpiffeId}");
        return new Node(name, domain, dir, Path.Combine(dir, "api.sock"), token.AgentSpiffeId, audit, Path.Combine(outDir, "payments.sock"), agent);
    }

    private static async Task<string> ServerAddressAsync(Domain domain)
    {
        var yaml = await File.ReadAllLinesAsync(Path.Combine(domain.Dir, "server.yaml")).ConfigureAwait(false);
        return yaml.Single(l => l.TrimStart().StartsWith("agentApi:", StringComparison.Ordinal)).Split(':', 2)[1].Trim();
    }

    private async Task WaitAgentHealthyAsync(Node node, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (node.Agent.HasExited)
            {
                throw new DemoStepException($"{node.Agent.Name} exited with {node.Agent.ExitCode}: {node.Agent.Tail()}");
            }

            if (File.Exists(node.ApiSocket)
                && (await CliAsync(null, ["agent", "healthcheck", "--socket", node.ApiSocket], show: false, cancellationToken).ConfigureAwait(false)).ExitCode == 0)
            {
                return;
            }

            if (clock.Elapsed > StartTimeout)
            {
                throw new DemoStepException($"{node.Agent.Name} was not healthy within {StartTimeout.TotalSeconds:0} s: {node.Agent.Tail()}");
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- 5. workloads ------------------------------------------------------------------------

    private async Task<string> RegisterWorkloadsAsync(CancellationToken cancellationToken)
    {
        var selectors = new[] { $"unix:uid:{_uid}", $"unix:path:{_workloadExe}" };
        await EntryAsync(AcmeDomain, WebId, Web, selectors, Payments, cancellationToken).ConfigureAwait(false);
        await EntryAsync(AcmeDomain, BatchId, BatchNode, selectors, Payments, cancellationToken).ConfigureAwait(false);
        await EntryAsync(PaymentsDomain, ApiId, Api, selectors, Acme, cancellationToken).ConfigureAwait(false);
        foreach (var (node, id, federated) in new[] { (Web, WebId, Payments), (BatchNode, BatchId, Payments), (Api, ApiId, Acme) })
        {
            await WaitSvidAsync(node, id, federated, cancellationToken).ConfigureAwait(false);
        }

        return $"each node's workload process holds its SVID and the other domain's bundle: {WebId}, {BatchId}, {ApiId}";
    }

    private async Task EntryAsync(Domain domain, string id, Node node, string[] selectors, string federatesWith, CancellationToken cancellationToken)
    {
        string[] args = ["entry", "create", "--spiffe-id", id, "--parent-id", node.AgentId, .. selectors.SelectMany(s => new[] { "--selector", s }), "--federates-with", federatesWith];
        await CliCheckedAsync(domain, args, cancellationToken, showOutput: false).ConfigureAwait(false);
    }

    /// <summary>Runs <c>anchorage agent api fetch x509</c> as a workload on <paramref name="node"/> until it gets <paramref name="id"/> and the bundle of <paramref name="federated"/>.</summary>
    private async Task WaitSvidAsync(Node node, string id, string federated, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var last = string.Empty;
        while (clock.Elapsed < ConvergeTimeout)
        {
            var (code, output) = await RunWorkloadAsync(_anchorage, ["agent", "api", "fetch", "x509", "--socket", node.ApiSocket, "--output", "json"], cancellationToken).ConfigureAwait(false);
            if (code == 0 && output.Contains($"\"{id}\"", StringComparison.Ordinal) && output.Contains($"\"{federated}\"", StringComparison.Ordinal))
            {
                return;
            }

            last = CliApp.OneLine(output.Trim());
            await Task.Delay(300, cancellationToken).ConfigureAwait(false);
        }

        throw new DemoStepException($"no SVID {id} with the {federated} bundle on {node.Name} within {ConvergeTimeout.TotalSeconds:0} s (last answer: {last})");
    }

    // ---- 6. the allowed call -----------------------------------------------------------------

    private async Task<string> AllowedCallAsync(CancellationToken cancellationToken)
    {
        var before = ServiceConnections;
        var (code, output, pid) = await CallAsync(_anchorage, Web, "hello from acme.corp/web", cancellationToken).ConfigureAwait(false);
        if (code != 0 || !output.StartsWith("payments.acme.corp/api: hello from acme.corp/web", StringComparison.Ordinal))
        {
            throw new DemoStepException($"the call failed (exit {code}): {CliApp.OneLine(output)}");
        }

        await WaitAsync(() => ServiceConnections > before, "the payments service to see the connection", cancellationToken).ConfigureAwait(false);
        _console.Info($"reply: {CliApp.OneLine(output)}");
        _allowedPid = pid;
        var record = await WaitAuditAsync(Web, r => r.Pid == pid && r.Decision == "allow", $"an allow record for pid {pid}", cancellationToken).ConfigureAwait(false);
        return $"pid {pid} got through as {record.SpiffeId ?? WebId} (rule {record.Rule ?? "-"}); payments' service saw 1 connection";
    }

    // ---- 7. the rogue ------------------------------------------------------------------------

    private async Task<string> RogueAsync(CancellationToken cancellationToken)
    {
        var rogues = new List<SelfCommand>();
        if (_uid == 0 && SelfCommand.Setpriv() is { } setpriv && OthersCanRun(_anchorage.FileName))
        {
            rogues.Add(_anchorage.AsUser(SelfCommand.Nobody, setpriv));
        }

        if (_anchorage.IsAppHost && SelfCommand.DotnetHost() is { } host)
        {
            rogues.Add(host);
        }

        if (rogues.Count == 0)
        {
            throw new DemoStepException("no way to run a rogue process here: not root (for setpriv) and no app host to tell apart from the dotnet host");
        }

        var before = ServiceConnections;
        var seen = new List<string>();
        foreach (var rogue in rogues)
        {
            var (code, output, pid) = await CallAsync(rogue, Web, "rogue says hi", cancellationToken).ConfigureAwait(false);
            _console.Info($"rogue pid {pid} ({rogue.Description}): exit {code}, {CliApp.OneLine(output)}");
            if (code == 0)
            {
                throw new DemoStepException($"the rogue ({rogue.Description}, pid {pid}) got a reply through web's gate: {CliApp.OneLine(output)}");
            }

            var record = await WaitAuditAsync(Web, r => r.Pid == pid && r.Decision == "deny", $"a deny record for the rogue's pid {pid}", cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrEmpty(record.Exe))
            {
                throw new DemoStepException($"the deny record for pid {pid} does not name the executable");
            }

            _rogues.Add((pid, rogue.Description));
            seen.Add($"pid {pid} exe {record.Exe} ({record.Reason ?? record.Rule ?? "denied"})");
        }

        // Give a connection that slipped through time to show up.
        await Task.Delay(300, cancellationToken).ConfigureAwait(false);
        if (ServiceConnections != before)
        {
            throw new DemoStepException("the payments service saw a connection while only rogues were calling");
        }

        return "denied and audited: " + string.Join("; ", seen) + "; payments saw no connection";
    }

    private static bool OthersCanRun(string executable)
    {
        // nobody must be able to walk to the app host and read the assemblies beside it.
        var dir = Path.GetDirectoryName(executable);
        while (!string.IsNullOrEmpty(dir))
        {
            if ((ModeOf(dir) & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }

            dir = Path.GetDirectoryName(dir);
        }

        // A single-file build (scripts/release) has no anchorage.dll: the executable carries the assemblies and reads itself.
        var mode = ModeOf(executable);
        var assemblies = File.Exists(SelfCommand.Dll) ? SelfCommand.Dll : executable;
        return (mode & UnixFileMode.OtherExecute) != 0 && (ModeOf(assemblies) & UnixFileMode.OtherRead) != 0;
    }

    // ---- 8. the policy-denied federated call -------------------------------------------------

    private async Task<string> PolicyDeniedAsync(CancellationToken cancellationToken)
    {
        var before = ServiceConnections;
        var (code, output, pid) = await CallAsync(_anchorage, BatchNode, "hello from acme.corp/batch", cancellationToken).ConfigureAwait(false);
        if (code == 0)
        {
            throw new DemoStepException($"batch got a reply: {CliApp.OneLine(output)}");
        }

        var record = await WaitAuditAsync(Api, r => r.Decision == "deny" && r.PeerSpiffeId == BatchId, $"a deny record for {BatchId} at payments' inbound gate", cancellationToken).ConfigureAwait(false);
        if (ServiceConnections != before)
        {
            throw new DemoStepException("the payments service saw batch's connection");
        }

        return $"pid {pid} presented {BatchId}, which payments verified with acme.corp's bundle and denied (rule {record.Rule ?? "default"}); payments' service saw nothing";
    }

    // ---- 9. rotation -------------------------------------------------------------------------

    private async Task<string> RotationAsync(CancellationToken cancellationToken)
    {
        var dir = Path.Combine(_dir, Acme, "web-node");
        var caller = Start("the looping caller", _anchorage, ["demo", "call", "--connect", "unix://" + Web.OutboundSocket, "--message", "rotation", "--loop"], Path.Combine(dir, "caller.log"), redirectInput: true);
        _console.Command("anchorage demo call --loop   (web, a new connection every 100 ms)", $"pid {caller.Pid}");
        await caller.WaitForLineAsync(l => l == "ok 3", StartTimeout, cancellationToken).ConfigureAwait(false);

        var old = await ActiveAuthorityAsync(PaymentsDomain, cancellationToken).ConfigureAwait(false);
        await CliCheckedAsync(PaymentsDomain, ["authority", "x509", "prepare"], cancellationToken, showOutput: false).ConfigureAwait(false);
        var seq = await WaitFederatedAsync(AcmeDomain, PaymentsDomain, cancellationToken).ConfigureAwait(false);
        _console.Info($"acme.corp fetched payments' bundle with the prepared authority (sequence {seq})");

        // Activate only once the peer's WORKLOADS trust the prepared authority (server -> agent ->
        // workload), not merely the peer's server: else a call in between fails verification.
        var list = await AdminAsync(PaymentsDomain, (c, o) => c.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" }, o), cancellationToken).ConfigureAwait(false);
        var prepared = list.Authorities.SingleOrDefault(a => a.State == "prepared") ?? throw new DemoStepException("payments.acme.corp has no prepared x509 authority after prepare");
        var held = await WaitFederatedBundleHoldsAsync(Web, PaymentsDomain.Name, prepared, cancellationToken).ConfigureAwait(false);
        _console.Info($"web's workload trusts it through its agent after {held.TotalSeconds:0.0} s");
        await CliCheckedAsync(PaymentsDomain, ["authority", "x509", "activate"], cancellationToken, showOutput: false).ConfigureAwait(false);
        await CliCheckedAsync(PaymentsDomain, ["authority", "x509", "taint", "--id", old.Id], cancellationToken, showOutput: false).ConfigureAwait(false);
        var current = await ActiveAuthorityAsync(PaymentsDomain, cancellationToken).ConfigureAwait(false);
        var reissued = await WaitSignedByAsync(Api, current, cancellationToken).ConfigureAwait(false);
        _console.Info($"payments' api SVID re-issued by the new authority after {reissued.TotalSeconds:0.0} s");

        // Calls after the switch must go through too.
        var okBefore = caller.Lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal));
        await WaitAsync(() => caller.Lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)) >= okBefore + 5, "five more calls after the switch", cancellationToken).ConfigureAwait(false);
        caller.CloseInput();
        await caller.WaitForExitAsync(TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
        var summary = caller.Lines.LastOrDefault(l => l.StartsWith("calls=", StringComparison.Ordinal)) ?? "no summary";
        var failures = caller.Lines.Where(l => l.StartsWith("fail ", StringComparison.Ordinal)).ToList();
        if (failures.Count > 0)
        {
            throw new DemoStepException($"{failures.Count} call(s) failed during the rotation ({summary}); first: {failures[0]}");
        }

        return $"{summary.Replace("calls=", "calls: ", StringComparison.Ordinal).Replace(" failures=", ", failures: ", StringComparison.Ordinal)} across prepare, activate and taint";
    }

    private static async Task<Protos.Admin.V1.Authority> ActiveAuthorityAsync(Domain domain, CancellationToken cancellationToken)
    {
        var list = await AdminAsync(domain, (c, o) => c.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" }, o), cancellationToken).ConfigureAwait(false);
        return list.Authorities.SingleOrDefault(a => a.State == "active") ?? throw new DemoStepException($"{domain.Name} has no active x509 authority");
    }

    /// <summary>Waits until a workload on <paramref name="node"/> receives <paramref name="trustDomain"/>'s bundle holding <paramref name="authority"/>.</summary>
    private async Task<TimeSpan> WaitFederatedBundleHoldsAsync(Node node, string trustDomain, Protos.Admin.V1.Authority authority, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(node.Dir, "fetched-bundles");
        var file = Path.Combine(dir, $"federated_bundle.{trustDomain}.pem");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ConvergeTimeout)
        {
            var (code, _) = await RunWorkloadAsync(_anchorage, ["agent", "api", "fetch", "x509", "--socket", node.ApiSocket, "--write", dir], cancellationToken).ConfigureAwait(false);
            if (code == 0 && File.Exists(file))
            {
                var bundle = new X509Certificate2Collection();
                bundle.ImportFromPemFile(file);
                var holds = bundle.Any(c => c.RawData.AsSpan().SequenceEqual(authority.Certificate.Span));
                foreach (var cert in bundle)
                {
                    cert.Dispose();
                }

                if (holds)
                {
                    return clock.Elapsed;
                }
            }

            await Task.Delay(300, cancellationToken).ConfigureAwait(false);
        }

        throw new DemoStepException($"the workload on {node.Name} did not receive {trustDomain}'s authority {authority.Id} within {ConvergeTimeout.TotalSeconds:0} s");
    }

    /// <summary>Waits until the SVID a workload on <paramref name="node"/> receives is signed by <paramref name="authority"/>.</summary>
    private async Task<TimeSpan> WaitSignedByAsync(Node node, Protos.Admin.V1.Authority authority, CancellationToken cancellationToken)
    {
        using var ca = X509CertificateLoader.LoadCertificate(authority.Certificate.Span);
        var dir = Path.Combine(node.Dir, "fetched");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ConvergeTimeout)
        {
            var (code, _) = await RunWorkloadAsync(_anchorage, ["agent", "api", "fetch", "x509", "--socket", node.ApiSocket, "--write", dir], cancellationToken).ConfigureAwait(false);
            if (code == 0)
            {
                var chain = new X509Certificate2Collection();
                chain.ImportFromPemFile(Path.Combine(dir, "svid.0.pem"));
                var signed = chain.Count > 0 && chain[0].IssuerName.RawData.AsSpan().SequenceEqual(ca.SubjectName.RawData);
                foreach (var cert in chain)
                {
                    cert.Dispose();
                }

                if (signed)
                {
                    return clock.Elapsed;
                }
            }

            await Task.Delay(300, cancellationToken).ConfigureAwait(false);
        }

        throw new DemoStepException($"the SVID on {node.Name} was not re-issued by authority {authority.Id} within {ConvergeTimeout.TotalSeconds:0} s");
    }

    // ---- 10. revocation ----------------------------------------------------------------------

    private async Task<string> RevocationAsync(CancellationToken cancellationToken)
    {
        // An SVID for web signed by the authority about to be revoked, key and all: what an attacker who copied it holds.
        var stolenDir = Path.Combine(_dir, Acme, "stolen");
        await CliCheckedAsync(AcmeDomain, ["x509", "mint", "--spiffe-id", WebId, "--write", stolenDir], cancellationToken, showOutput: false).ConfigureAwait(false);
        using var stolen = X509Certificate2.CreateFromPemFile(Path.Combine(stolenDir, "svid.pem"), Path.Combine(stolenDir, "key.pem"));
        var control = await CallWithCertificateAsync(stolen, cancellationToken).ConfigureAwait(false);
        if (control is null)
        {
            throw new DemoStepException("the minted SVID was refused before any revocation (the control call failed)");
        }

        _console.Info($"a copied SVID of {WebId} (minted by the current authority) gets through payments' gate directly: \"{control}\"");
        using var live = await OpenWithCertificateAsync(stolen, cancellationToken).ConfigureAwait(false)
            ?? throw new DemoStepException("a second connection with the copied SVID was refused before any revocation");
        if (await live.CallAsync("still here", cancellationToken).ConfigureAwait(false) is null)
        {
            throw new DemoStepException("the live connection with the copied SVID got no reply before any revocation");
        }

        var old = await ActiveAuthorityAsync(AcmeDomain, cancellationToken).ConfigureAwait(false);
        await CliCheckedAsync(AcmeDomain, ["authority", "x509", "prepare"], cancellationToken, showOutput: false).ConfigureAwait(false);
        await WaitFederatedAsync(PaymentsDomain, AcmeDomain, cancellationToken).ConfigureAwait(false);
        var acmeList = await AdminAsync(AcmeDomain, (c, o) => c.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" }, o), cancellationToken).ConfigureAwait(false);
        var acmePrepared = acmeList.Authorities.SingleOrDefault(a => a.State == "prepared") ?? throw new DemoStepException("acme.corp has no prepared x509 authority after prepare");
        await WaitFederatedBundleHoldsAsync(Api, AcmeDomain.Name, acmePrepared, cancellationToken).ConfigureAwait(false);
        await CliCheckedAsync(AcmeDomain, ["authority", "x509", "activate"], cancellationToken, showOutput: false).ConfigureAwait(false);
        await CliCheckedAsync(AcmeDomain, ["authority", "x509", "taint", "--id", old.Id], cancellationToken, showOutput: false).ConfigureAwait(false);
        var current = await ActiveAuthorityAsync(AcmeDomain, cancellationToken).ConfigureAwait(false);
        await WaitSignedByAsync(Web, current, cancellationToken).ConfigureAwait(false);
        _console.Info("web's own SVID was re-issued by the new authority");
        await CliCheckedAsync(AcmeDomain, ["authority", "x509", "revoke", "--id", old.Id], cancellationToken, showOutput: false).ConfigureAwait(false);
        var revokedAt = Stopwatch.StartNew();
        var seq = await WaitFederatedAsync(PaymentsDomain, AcmeDomain, cancellationToken).ConfigureAwait(false);
        _console.Info($"payments.acme.corp fetched acme.corp's bundle without the revoked authority (sequence {seq}) after {revokedAt.Elapsed.TotalSeconds:0.0} s");

        while (await CallWithCertificateAsync(stolen, cancellationToken).ConfigureAwait(false) is { } reply)
        {
            if (revokedAt.Elapsed > ConvergeTimeout)
            {
                throw new DemoStepException($"the SVID of the revoked authority still gets through {ConvergeTimeout.TotalSeconds:0} s after the revocation: \"{reply}\"");
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        var refusedAfter = revokedAt.Elapsed;
        if (!await live.ClosedWithinAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
        {
            throw new DemoStepException("the live connection made with the copied SVID was still open 10 s after new ones were refused (closeOnRevoke)");
        }

        var closedAfter = revokedAt.Elapsed;
        var (code, output, callerPid) = await CallAsync(_anchorage, Web, "hello again", cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new DemoStepException($"web's own call failed after the revocation: {CliApp.OneLine(output)} ({GateRecords(callerPid)})");
        }

        return string.Create(CultureInfo.InvariantCulture, $"new connections with the copied SVID are refused {refusedAfter.TotalSeconds:0.0} s after 'authority x509 revoke' and its live connection was closed by {closedAfter.TotalSeconds:0.0} s; web, re-issued, still gets through");
    }

    /// <summary>What both gates recorded last about a failed call from <paramref name="pid"/>, for the error message.</summary>
    private string GateRecords(int pid)
    {
        static string Describe(AuditLine? r) =>
            r is null ? "no record" : $"{r.Decision} {r.Reason ?? "-"} local={r.SpiffeId ?? "-"} peer={r.PeerSpiffeId ?? "-"} at {r.Time}";

        var outbound = AuditLine.ReadAll(Web.AuditFile).LastOrDefault(r => r.Pid == pid);
        var inbound = AuditLine.ReadAll(Api.AuditFile).LastOrDefault(r => r.Direction == "inbound");
        return $"web's gate: {Describe(outbound)}; payments' gate, last inbound: {Describe(inbound)}";
    }

    /// <summary>Connects straight to payments' inbound gate with mTLS presenting <paramref name="certificate"/>; the reply, or null when refused.</summary>
    private async Task<string?> CallWithCertificateAsync(X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        using var connection = await OpenWithCertificateAsync(certificate, cancellationToken).ConfigureAwait(false);
        return connection is null ? null : await connection.CallAsync("copied svid", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An mTLS connection to payments' inbound gate presenting <paramref name="certificate"/>, or null when the handshake fails.</summary>
    private async Task<HeldConnection?> OpenWithCertificateAsync(X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        Socket? socket = null;
        SslStream? tls = null;
        try
        {
            socket = await DemoEndpoint.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _inboundPort), timeout.Token).ConfigureAwait(false);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "payments.acme.corp",
                    ClientCertificates = [certificate],
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,

                    // The attacker does not care who answers; the gate's check is what is shown.
                    RemoteCertificateValidationCallback = (_, serverCertificate, _, _) => serverCertificate is not null,
                },
                timeout.Token).ConfigureAwait(false);
            var held = new HeldConnection(tls);
            tls = null;
            socket = null;
            return held;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
        finally
        {
            tls?.Dispose();
            socket?.Dispose();
        }
    }

    /// <summary>A TLS connection the demo keeps open to see whether the gate closes it.</summary>
    private sealed class HeldConnection(SslStream tls) : IDisposable
    {
        private readonly StreamReader _reader = new(tls, new UTF8Encoding(false), leaveOpen: true);

        /// <summary>Sends a line and reads the reply; null when the gate closed or refused the connection.</summary>
        public async Task<string?> CallAsync(string line, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                await tls.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), timeout.Token).ConfigureAwait(false);
                return await _reader.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return null;
            }
        }

        /// <summary>Waits up to <paramref name="within"/> for the other side to close; true when it did.</summary>
        public async Task<bool> ClosedWithinAsync(TimeSpan within, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(within);
            try
            {
                return await _reader.ReadLineAsync(timeout.Token).ConfigureAwait(false) is null;
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                return true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            tls.Dispose();
        }
    }

    // ---- 11. audit ---------------------------------------------------------------------------

    private async Task<string> AuditAsync(CancellationToken cancellationToken)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var all = new List<AuditLine>();
        foreach (var node in (Node[])[Web, BatchNode, Api])
        {
            foreach (var record in AuditLine.ReadAll(node.AuditFile))
            {
                all.Add(record);
                var key = record.Decision is null ? record.Kind ?? "?" : $"{record.Kind} {record.Decision}";
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        var pid = _allowedPid.ToString(CultureInfo.InvariantCulture);
        (Node Node, string Filter, string Why)[] views =
        [
            (Web, "process.pid=" + pid, "the allowed call: web's process, its SVID, the rule, bytes and duration"),
            (Web, "decision=deny", "the rogues at web's gate: pid, executable and uid of each"),
            (Api, "decision=deny", "at payments' inbound gate: batch (policy) and the copied SVID after the revocation"),
            (Api, "reason=authority-revoked", "the live connection closed by the revocation"),
            (Web, "kind=bundle", "bundle changes web's gate saw (payments' rotation)"),
        ];
        foreach (var (node, filter, why) in views)
        {
            _console.Info(why + ":");
            string[] args = ["audit", "tail", "--file", node.AuditFile, "--lines", "100", "--filter", filter];
            var result = await CliAsync(null, args, show: true, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new DemoStepException($"anchorage audit tail exited {result.ExitCode}: {CliApp.OneLine(result.Error.Trim())}");
            }

            _console.Block(result.Out.Trim().Length == 0 ? "(none)" : result.Out);
        }

        foreach (var (roguePid, what) in _rogues)
        {
            if (!all.Any(r => r.Pid == roguePid && r.Decision == "deny" && !string.IsNullOrEmpty(r.Exe)))
            {
                throw new DemoStepException($"the audit has no deny record with the pid {roguePid} and executable of the rogue ({what})");
            }
        }

        if (!all.Any(r => r.Decision == "deny" && r.PeerSpiffeId == BatchId))
        {
            throw new DemoStepException($"the audit has no deny record for {BatchId}");
        }

        return $"{all.Count} records in the three gates' files ({string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}"))}); the rogues' deny records name their pid and executable";
    }

    // ---- 12. inventory -----------------------------------------------------------------------

    private async Task<string> InventoryAsync(CancellationToken cancellationToken)
    {
        foreach (var (domain, peer) in new[] { (AcmeDomain, PaymentsDomain), (PaymentsDomain, AcmeDomain) })
        {
            var result = await CliCheckedAsync(domain, ["inventory"], cancellationToken).ConfigureAwait(false);
            if (!result.Contains(peer.Name, StringComparison.Ordinal))
            {
                throw new DemoStepException($"{domain.Name}'s inventory does not list {peer.Name}");
            }

            var status = await AdminAsync(domain, (c, o) => c.GetFederationAsync(new GetFederationRequest { TrustDomain = peer.Name }, o), cancellationToken).ConfigureAwait(false);
            if (status.Flags.Count > 0 || status.LastError.Length > 0 || status.FederatingEntries == 0)
            {
                throw new DemoStepException($"{domain.Name}'s relationship with {peer.Name} is not healthy: flags [{string.Join(",", status.Flags)}], last error \"{status.LastError}\", {status.FederatingEntries} entries");
            }
        }

        return "each domain lists the other, fresh, used by its entries, no flags and no error";
    }

    // ---- plumbing ----------------------------------------------------------------------------

    private ChildProcess Start(string name, SelfCommand command, IEnumerable<string> args, string log, bool redirectInput = false)
    {
        var child = ChildProcess.Start(name, command, args, log, redirectInput);
        _children.Add(child);
        return child;
    }

    /// <summary>Runs a demo workload verb (<c>demo call</c>) through <paramref name="node"/>'s outbound gate; its exit code, output and pid.</summary>
    private static Task<(int Code, string Output, int Pid)> CallAsync(SelfCommand command, Node node, string message, CancellationToken cancellationToken) =>
        CallAsync(command, node, "unix://" + node.OutboundSocket, message, cancellationToken);

    /// <summary>Runs <c>demo call --connect <paramref name="connect"/></c>, logging to <paramref name="node"/>'s calls.log.</summary>
    private static async Task<(int Code, string Output, int Pid)> CallAsync(SelfCommand command, Node node, string connect, string message, CancellationToken cancellationToken)
    {
        var log = Path.Combine(node.Dir, "calls.log");
        var child = ChildProcess.Start("a caller", command, ["demo", "call", "--connect", connect, "--message", message], log);
        try
        {
            var code = await child.WaitForExitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);

            // A refusal is on stderr; the log holds both.
            return (code, code == 0 ? string.Join('\n', child.Lines) : child.Tail(1), child.Pid);
        }
        finally
        {
            await child.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<(int Code, string Output)> RunWorkloadAsync(SelfCommand command, string[] args, CancellationToken cancellationToken)
    {
        var log = Path.Combine(_dir, "workload.log");
        var child = ChildProcess.Start("a workload", command, args, log);
        try
        {
            var code = await child.WaitForExitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            return (code, code == 0 ? string.Join('\n', child.Lines) : child.Tail(1));
        }
        finally
        {
            await child.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<AuditLine> WaitAuditAsync(Node node, Func<AuditLine, bool> match, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var found = AuditLine.ReadAll(node.AuditFile).FirstOrDefault(match);
            if (found is not null)
            {
                return found;
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new DemoStepException($"no {what} in {Short(node.AuditFile)} within 10 s");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > ConvergeTimeout)
            {
                throw new DemoStepException($"timed out after {ConvergeTimeout.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<T> AdminAsync<T>(Domain domain, Func<AdminApi.AdminApiClient, CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        using var admin = AdminConnection.ForSocket(domain.AdminSocket);
        return await admin.CallAsync(call, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs an operator verb in this process against <paramref name="domain"/>'s admin socket, showing it; its output, or a failed step.</summary>
    private async Task<string> CliCheckedAsync(Domain domain, string[] args, CancellationToken cancellationToken, bool showOutput = true)
    {
        var result = await CliAsync(domain, args, show: true, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new DemoStepException($"anchorage {string.Join(' ', args.Select(Short))} exited {result.ExitCode}: {CliApp.OneLine(result.Error.Trim())}");
        }

        if (showOutput && result.Out.Trim().Length > 0)
        {
            _console.Block(result.Out);
        }

        return result.Out;
    }

    private async Task<(int ExitCode, string Out, string Error)> CliAsync(Domain? domain, string[] args, bool show, CancellationToken cancellationToken)
    {
        if (show)
        {
            _console.Command("anchorage " + string.Join(' ', args.Select(Short)), domain is null ? null : $"on {domain.Name}'s admin socket");
        }

        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        string[] full = domain is null ? args : [.. args, "--socket", domain.AdminSocket];
        var code = await CliApp.RunAsync(full, new CliContext(output, error, _context.Time), cancellationToken).ConfigureAwait(false);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A path under the demo's directory, relative to it (for display).</summary>
    private string Short(string text) => text.Replace(_dir + "/", string.Empty, StringComparison.Ordinal);

    private static void Chmod(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static UnixFileMode ModeOf(string path) => OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(path);

    private static uint OwnUid() =>
        uint.Parse(
            File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2],
            CultureInfo.InvariantCulture);

    /// <summary>Stops every child (newest first) and removes the directory unless asked to keep it.</summary>
    public async ValueTask DisposeAsync()
    {
        for (var i = _children.Count - 1; i >= 0; i--)
        {
            await _children[i].DisposeAsync().ConfigureAwait(false);
        }

        _children.Clear();
        _transparent?.Dispose();
        if (_options.Keep)
        {
            await _context.Error.WriteLineAsync($"demo: kept {_dir} (logs, configs, audit files)").ConfigureAwait(false);
            return;
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A child still writing; one retry after it is gone.
            await Task.Delay(500, CancellationToken.None).ConfigureAwait(false);
            Directory.Delete(_dir, recursive: true);
        }
    }

    private sealed record Domain(string Name, string Dir, string AdminSocket, int BundlePort, ChildProcess Server);

    private sealed record Node(string Name, Domain Domain, string Dir, string ApiSocket, string AgentId, string AuditFile, string OutboundSocket, ChildProcess Agent);

    // Directories the demo makes: 0755 whatever the umask, so the safe-write helper accepts them.
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static void MakeDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    // Configs and manifests through the one safe-write helper, 0600 (an agent config holds its join token).
    private static Task WriteFileAsync(string path, string text, CancellationToken cancellationToken) =>
        SafeFile.WriteTextAsync(path, text, SafeFile.PrivateMode, cancellationToken);
}
