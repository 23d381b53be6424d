using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Config;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Policy;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// The gate as the agent composes it from agent.yaml: the policy source (gate.policyFile, else
/// the server's), the audit log (gate.audit, else nothing is written) and the <see cref="GateHost"/>;
/// disposed together, the host first so its last records reach the log before it is flushed.
/// </summary>
internal sealed class GateRuntime : IAsyncDisposable
{
    /// <summary>The logger category of the audit log's own errors.</summary>
    public const string AuditLoggerCategory = "Anchorage.Foundation.Audit";

    private readonly AuditLog? _audit;
    private readonly DenySummarizer? _summarizer;
    private readonly FilePolicySource? _filePolicy;

    private GateRuntime(GateHost host, AuditLog? audit, DenySummarizer? summarizer, FilePolicySource? filePolicy)
    {
        _summarizer = summarizer;
        Host = host;
        _audit = audit;
        _filePolicy = filePolicy;
    }

    public GateHost Host { get; }

    /// <exception cref="Node.AgentStartException">The policy file is missing or invalid.</exception>
    /// <exception cref="IOException">A gate listener cannot bind.</exception>
    public static async Task<GateRuntime> StartAsync(
        GateOptions options, WorkloadCache cache, IWorkloadAttestor attestor, IPolicySource serverPolicy, ILoggerFactory loggerFactory, TimeProvider time,
        ConnectionAttributor? attribution = null, Func<Anchorage.Spiffe.Svids.X509Svid?>? agentSvid = null, Node.UsageRecorder? usage = null)
    {
        FilePolicySource? filePolicy = null;
        AuditLog? audit = null;
        DenySummarizer? summarizer = null;
        try
        {
            if (options.PolicyFile is { } path)
            {
                filePolicy = new FilePolicySource(path, time, loggerFactory.CreateLogger(AgentApp.PolicyLoggerCategory));
            }

            if (options.Audit is { } auditOptions)
            {
                audit = new AuditLog(auditOptions, loggerFactory.CreateLogger(AuditLoggerCategory), time);

                // A flood of denials from one caller must not rotate older evidence away.
                summarizer = new DenySummarizer(audit, time);
            }

            var host = GateHost.Start(options, new GateSetup
            {
                Cache = cache,
                Attestor = attestor,
                Attribution = attribution ?? ConnectionAttributor.FallbackOnly,
                Policy = filePolicy ?? serverPolicy,
                // Observed use counts every decision, before denials are summarized (issue 15 item 3).
                Audit = usage is null
                    ? summarizer is not null ? summarizer : NullAuditSink.Instance
                    : new Auditing.UsageAuditSink(summarizer is not null ? summarizer : NullAuditSink.Instance, usage),
                TimeProvider = time,
                LoggerFactory = loggerFactory,
                AgentSvid = agentSvid,
            });
            return new GateRuntime(host, audit, summarizer, filePolicy);
        }
        catch
        {
            filePolicy?.Dispose();
            summarizer?.Dispose();
            if (audit is not null)
            {
                await audit.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync().ConfigureAwait(false);
        _filePolicy?.Dispose();

        // Pending summaries go to the log before it closes.
        _summarizer?.Dispose();
        if (_audit is not null)
        {
            await _audit.DisposeAsync().ConfigureAwait(false);
        }
    }
}
