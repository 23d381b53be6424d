using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>
/// What the demo's steps share: the cluster, the identities the demo uses, and what each step
/// leaves for the later ones (domains, nodes, the service, the rogues' pids). A step that needs
/// what an earlier one did not leave fails with that step's name in the message.
/// </summary>
internal sealed class DemoContext(LocalCluster cluster)
{
    public const string Acme = "acme.corp";
    public const string Payments = "payments.acme.corp";
    public const string WebId = "spiffe://acme.corp/web";
    public const string BatchId = "spiffe://acme.corp/batch";
    public const string ApiId = "spiffe://payments.acme.corp/api";

    private ClusterDomain? _acme;
    private ClusterDomain? _payments;
    private ClusterNode? _web;
    private ClusterNode? _batch;
    private ClusterNode? _api;

    public LocalCluster Cluster => cluster;

    public DemoConsole Console => cluster.Console;

    public OperatorCli Cli => cluster.Cli;

    public Workloads Workloads => cluster.Workloads;

    /// <summary>How the demo starts <c>anchorage</c>: the registered workload executable.</summary>
    public SelfCommand Anchorage => cluster.Anchorage;

    public ClusterDomain AcmeDomain
    {
        get => _acme ?? throw new InvalidOperationException("acme.corp is not running");
        set => _acme = value;
    }

    public ClusterDomain PaymentsDomain
    {
        get => _payments ?? throw new InvalidOperationException("payments.acme.corp is not running");
        set => _payments = value;
    }

    public ClusterNode Web
    {
        get => _web ?? throw new InvalidOperationException("the web node is not running");
        set => _web = value;
    }

    public ClusterNode Batch
    {
        get => _batch ?? throw new InvalidOperationException("the batch node is not running");
        set => _batch = value;
    }

    public ClusterNode Api
    {
        get => _api ?? throw new InvalidOperationException("the payments node is not running");
        set => _api = value;
    }

    /// <summary>The payments service (a line echo server), once started.</summary>
    public ChildProcess? Service { get; set; }

    /// <summary>The service's port on 127.0.0.1 (plain; behind payments' inbound gate).</summary>
    public int ServicePort { get; set; }

    /// <summary>Payments' inbound gate port on 127.0.0.1 (mTLS): payments' "real" address.</summary>
    public int InboundPort { get; set; }

    /// <summary>The executable the workloads run as (their <c>unix:path</c> selector).</summary>
    public string WorkloadExe { get; set; } = string.Empty;

    /// <summary>The pid of the allowed call (its audit trail is shown).</summary>
    public int AllowedPid { get; set; }

    /// <summary>The rogues denied at web's gate, by pid.</summary>
    public List<(int Pid, string What)> Rogues { get; } = [];

    /// <summary>The transparent step's fixture, or null with <see cref="TransparentSkipped"/>.</summary>
    public TransparentDemo? Transparent { get; set; }

    /// <summary>Why this machine cannot run the transparent step (empty when it can).</summary>
    public string TransparentSkipped { get; set; } = string.Empty;

    /// <summary>How many connections the payments service has accepted so far.</summary>
    public int ServiceConnections => Service?.Lines.Count(l => l.StartsWith("connection ", StringComparison.Ordinal)) ?? 0;

    /// <summary>Every node, in the order they were started.</summary>
    public ClusterNode[] Nodes => [Web, Batch, Api];
}
