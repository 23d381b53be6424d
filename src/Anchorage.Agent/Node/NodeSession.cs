using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Config;
using Anchorage.Agent.Node.Internal;
using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Node;

/// <summary>
/// The agent's standing with its server: its own SVID (loaded from the data directory, or
/// obtained with the join token), renewal at half life, the own trust bundle, and the channel
/// every other call uses.
/// </summary>
/// <remarks>
/// Re-attestation policy (documented in docs/agent.md): the agent attests with its join token
/// only when it holds no usable SVID of its own (first start, expired while the agent was down,
/// or unusable files, which are moved aside, never deleted). A join token is single-use, so an
/// agent whose SVID expired or that was evicted needs a new <c>joinToken</c> in its config and a
/// restart. While it has none, it stays up, keeps serving the workload SVIDs it holds until they
/// expire, reports not ready with the reason, and retries the server at a slow pace in case the
/// refusal was temporary.
/// </remarks>
public sealed class NodeSession : IX509BundleSource, IDisposable
{
    private readonly AgentOptions _options;
    private readonly AgentStateStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private AgentState? _state;
    private ServerChannel? _channel;
    private string? _refusal;

    /// <summary>Creates a session; nothing happens until <see cref="StartAsync"/>.</summary>
    public NodeSession(AgentOptions options, AgentStateStore store, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _store = store;
        _time = time;
        _logger = logger;
    }

    /// <summary>The agent's SPIFFE ID; empty before <see cref="StartAsync"/> returns.</summary>
    public SpiffeId AgentId => _state?.Svid.Id ?? default;

    /// <summary>The agent's current SVID.</summary>
    /// <exception cref="InvalidOperationException">Before <see cref="StartAsync"/>.</exception>
    public X509Svid Svid => State.Svid;

    /// <summary>The latest bundle of the agent's own trust domain.</summary>
    public SpiffeBundle Bundle => State.Bundle;

    /// <summary>Why the server refuses this agent (evicted, banned, SVID expired), or null while it does not.</summary>
    public string? Refusal => Volatile.Read(ref _refusal);

    private AgentState State => Volatile.Read(ref _state) ?? throw new InvalidOperationException("the node session has not started");

    /// <summary>The agent API client over the current mTLS channel.</summary>
    public AgentApi.AgentApiClient Client
    {
        get
        {
            lock (_gate)
            {
                _channel ??= ServerChannel.Open(_options.ServerAddress, _options.TrustDomain, this, State.Svid, _time);
                return _channel.Client;
            }
        }
    }

    /// <summary>
    /// Loads the saved SVID; when there is none or it has expired, attests with the join token.
    /// Returns once the agent holds a valid SVID.
    /// </summary>
    /// <exception cref="AgentStartException">No usable SVID and no join token, no way to trust the
    /// server, or the server refused the attestation; the message says which.</exception>
    /// <exception cref="RpcException">The server could not be reached (the caller retries).</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        AgentState? saved = null;
        try
        {
            saved = _store.Load();
        }
        catch (AgentStateException e)
        {
            var moved = _store.QuarantineCorrupt(_time.GetUtcNow());
            NodeLog.StateUnusable(_logger, e.Message, string.Join(", ", moved));
        }

        if (saved is not null && saved.Svid.Leaf.NotAfter > _time.GetUtcNow().UtcDateTime)
        {
            Volatile.Write(ref _state, saved);
            NodeLog.Resumed(_logger, saved.Svid.Id, saved.Svid.Leaf.NotAfter);
            return;
        }

        if (saved is not null)
        {
            NodeLog.SavedSvidExpired(_logger, saved.Svid.Id, saved.Svid.Leaf.NotAfter);
        }

        if (string.IsNullOrEmpty(_options.JoinToken))
        {
            throw new AgentStartException(saved is null
                ? "the agent has no SVID in its data directory and no joinToken is configured"
                : $"the agent's SVID expired at {saved.Svid.Leaf.NotAfter:u} and no joinToken is configured; a new join token is needed");
        }

        var bootstrap = saved?.Bundle ?? LoadBootstrapBundle();
        await AttestAsync(bootstrap, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renews the agent SVID when half its lifetime has passed. Returns true when it renewed.</summary>
    /// <exception cref="RpcException">The server could not be reached or refused.</exception>
    public async Task<bool> RenewIfDueAsync(CancellationToken cancellationToken)
    {
        var svid = Svid;
        if (_time.GetUtcNow() < RenewalTime(svid.Leaf))
        {
            return false;
        }

        await RenewNowAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Renews the agent SVID now, whatever its age: the authority that signed it was tainted, and it
    /// must be replaced before that authority is revoked (else the server can no longer
    /// authenticate this agent and it is cut off until re-attested).
    /// </summary>
    /// <exception cref="RpcException">The server could not be reached or refused.</exception>
    public async Task RenewNowAsync(CancellationToken cancellationToken)
    {

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await Client.RenewAgentAsync(
            new RenewAgentRequest { Csr = ByteString.CopyFrom(CreateCsr(key)) }, cancellationToken: cancellationToken).ConfigureAwait(false);
        var renewed = ToSvid(response.Svid, key);
        Replace(State with { Svid = renewed });
        NodeLog.Renewed(_logger, renewed.Id, renewed.Leaf.SerialNumber, renewed.Leaf.NotAfter);
    }

    /// <summary>Takes a newer own-trust-domain bundle from the server and saves it.</summary>
    public void UpdateBundle(SpiffeBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        if (bundle.TrustDomain != _options.TrustDomain)
        {
            throw new ArgumentException("not the agent's own trust domain", nameof(bundle));
        }

        var state = State;
        if (state.Bundle.SequenceNumber == bundle.SequenceNumber && bundle.SequenceNumber is not null)
        {
            return;
        }

        Volatile.Write(ref _state, state with { Bundle = bundle });
        _store.SaveBundle(bundle);
    }

    /// <summary>
    /// Records how the server answered: a PermissionDenied (evicted, banned, stale or expired SVID)
    /// sets <see cref="Refusal"/>; any successful call clears it; a transient failure
    /// (<see cref="ServerErrors.IsTransient"/>) drops the channel.
    /// </summary>
    /// <param name="failure">The failed call; null after a successful one.</param>
    /// <param name="cancellationToken">The token the call was made with: a cancellation it asked for is no failure of the server.</param>
    public void Observe(RpcException? failure, CancellationToken cancellationToken)
    {
        if (failure is null)
        {
            Volatile.Write(ref _refusal, null);
            return;
        }

        if (failure.StatusCode is StatusCode.PermissionDenied or StatusCode.Unauthenticated)
        {
            var reason = "the server refuses the agent: " + failure.Status.Detail;
            if (Interlocked.Exchange(ref _refusal, reason) != reason)
            {
                NodeLog.Refused(_logger, AgentId, failure.Status.Detail);
            }

            // The next call may be on a new connection (the refusal may have been about this one).
            ResetChannel();
        }
        else if (ServerErrors.IsTransient(failure, cancellationToken))
        {
            // A fresh channel reconnects at once when the server is back, instead of waiting out
            // the failed channel's own reconnect backoff.
            ResetChannel();
        }
    }

    /// <summary>Drops the current channel so the next call connects afresh.</summary>
    public void ResetChannel()
    {
        lock (_gate)
        {
            _channel?.Dispose();
            _channel = null;
        }
    }

    /// <summary>When an SVID issued as <paramref name="leaf"/> should be renewed: at half its lifetime.</summary>
    public static DateTimeOffset RenewalTime(X509Certificate2 leaf)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
        return notBefore + ((notAfter - notBefore) / 2);
    }

    /// <inheritdoc/>
    public bool TryGetX509Bundle(TrustDomain trustDomain, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out X509Bundle? bundle)
    {
        var state = Volatile.Read(ref _state);
        if (state is not null && trustDomain == state.Bundle.TrustDomain)
        {
            bundle = state.Bundle.ToX509Bundle();
            return true;
        }

        bundle = null;
        return false;
    }

    /// <inheritdoc/>
    public void Dispose() => ResetChannel();

    /// <summary>A PKCS#10 request for <paramref name="key"/>; the server takes only the public key from it.</summary>
    internal static byte[] CreateCsr(ECDsa key)
    {
        var request = new CertificateRequest("O=Anchorage", key, HashAlgorithmName.SHA256);
        return request.CreateSigningRequest();
    }

    /// <summary>Builds an SVID from the server's answer and the key the CSR was made for.</summary>
    /// <exception cref="RpcException">Internal: the server's answer is unusable.</exception>
    internal static X509Svid ToSvid(Protos.Common.V1.X509Svid proto, ECDsa key, string? hint = null)
    {
        if (proto is null || proto.CertChain.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.Internal, "the server returned no certificate"));
        }

        try
        {
            var der = proto.CertChain.SelectMany(c => c.ToByteArray()).ToArray();
            return X509Svid.FromDer(der, key.ExportPkcs8PrivateKey(), hint);
        }
        catch (Exception e) when (e is SpiffeException or FormatException or CryptographicException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "the server returned an unusable svid: " + e.Message));
        }
    }

    private SpiffeBundle? LoadBootstrapBundle()
    {
        if (_options.TrustBundleFile is { } file)
        {
            try
            {
                return SpiffeBundle.Load(_options.TrustDomain, File.ReadAllBytes(file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new AgentStartException($"trustBundleFile {file}: cannot be read: {e.Message}");
            }
            catch (Exception e) when (e is SpiffeException or FormatException or CryptographicException)
            {
                throw new AgentStartException($"trustBundleFile {file}: not a bundle of {_options.TrustDomain.Name}: {e.Message}");
            }
        }

        if (!_options.InsecureBootstrap)
        {
            throw new AgentStartException("no trustBundleFile is configured and insecureBootstrap is off: the server cannot be authenticated");
        }

        return null;
    }

    private async Task AttestAsync(SpiffeBundle? bootstrap, CancellationToken cancellationToken)
    {
        var bootstrapSource = bootstrap is null ? null : new StaticBundleSource(bootstrap);
        if (bootstrap is null)
        {
            NodeLog.InsecureBootstrap(_logger, _options.ServerAddress);
        }

        using var channel = bootstrapSource is null
            ? ServerChannel.OpenInsecure(_options.ServerAddress)
            : ServerChannel.Open(_options.ServerAddress, _options.TrustDomain, bootstrapSource, svid: null, _time);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        AttestJoinTokenResponse response;
        try
        {
            response = await channel.Client.AttestJoinTokenAsync(
                new AttestJoinTokenRequest { Token = _options.JoinToken, Csr = ByteString.CopyFrom(CreateCsr(key)) },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied or StatusCode.Unauthenticated or StatusCode.InvalidArgument or StatusCode.NotFound)
        {
            throw new AgentStartException("the server refused the join token: " + e.Status.Detail);
        }

        var svid = ToSvid(response.Svid, key);
        SpiffeBundle bundle;
        try
        {
            bundle = SpiffeBundle.Parse(_options.TrustDomain, response.Bundle.SpiffeBundleJson.Span);
        }
        catch (Exception e) when (e is SpiffeException or FormatException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "the server returned an unusable bundle: " + e.Message));
        }

        if (svid.Id.TrustDomain != _options.TrustDomain)
        {
            throw new AgentStartException($"the server issued an SVID of {svid.Id.TrustDomain.Name}, not {_options.TrustDomain.Name}");
        }

        Replace(new AgentState(svid, bundle));
        NodeLog.Attested(_logger, svid.Id, svid.Leaf.NotAfter);
    }

    private void Replace(AgentState state)
    {
        _store.Save(state);
        Volatile.Write(ref _state, state);

        // The server now accepts only the new SVID.
        ResetChannel();
    }

    private sealed class StaticBundleSource(SpiffeBundle bundle) : IX509BundleSource
    {
        public bool TryGetX509Bundle(TrustDomain trustDomain, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out X509Bundle? result)
        {
            result = trustDomain == bundle.TrustDomain ? bundle.ToX509Bundle() : null;
            return result is not null;
        }
    }
}
