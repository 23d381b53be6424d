using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Foundation.Ids;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// Who is calling the agent API: the client certificate of the connection, verified again here as
/// an X.509-SVID of this trust domain (X509-SVID §5, against the trust domain's own bundle, not
/// only the TLS layer's view), naming an agent, and current per <see cref="NodeService"/> (attested,
/// not banned, the serial the server issued last, not expired).
/// </summary>
internal sealed class AgentAuthenticator
{
    public const string SvidRequiredMessage = "agent svid is required";
    public const string SvidInvalidMessage = "agent svid is not valid";
    public const string NotAnAgentMessage = "caller is not an agent of this trust domain";

    private readonly ICertificateAuthority _ca;
    private readonly NodeService _nodes;
    private readonly X509SvidVerifier _verifier;
    private readonly ILogger _logger;
    private volatile Trust? _trust;

    public AgentAuthenticator(ICertificateAuthority ca, NodeService nodes, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        _ca = ca;
        _nodes = nodes;
        _verifier = new X509SvidVerifier(timeProvider);
        _logger = loggerFactory.CreateLogger(ApiLog.Category);
    }

    /// <summary>The calling agent's node record and the serial of the SVID it presented.</summary>
    /// <exception cref="ApiException">PermissionDenied: no certificate, an invalid one, or not an agent.</exception>
    /// <exception cref="AttestationException">The node is unknown, evicted, banned, or the SVID is not its current one.</exception>
    public async Task<(AttestedNode Node, string Serial)> AuthenticateAsync(ServerCallContext context, CancellationToken cancellationToken)
    {
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        if (certificate is null)
        {
            ApiLog.AgentRefused(_logger, "no client certificate");
            throw ApiException.PermissionDenied(SvidRequiredMessage);
        }

        var stored = await _ca.GetBundleAsync(cancellationToken).ConfigureAwait(false);
        var trust = await GetTrustAsync(stored, cancellationToken).ConfigureAwait(false);
        SpiffeId id;
        try
        {
            id = _verifier.Verify([certificate, .. trust.Intermediates], trust.Bundle).Id;
        }
        catch (Exception ex) when (ex is SpiffeException or ArgumentException or CryptographicException)
        {
            ApiLog.AgentRefused(_logger, ex.Message);
            throw ApiException.PermissionDenied(SvidInvalidMessage);
        }

        if (!id.MemberOf(_ca.TrustDomain) || !id.Path.StartsWith(AnchorageIds.AgentPathPrefix, StringComparison.Ordinal))
        {
            ApiLog.AgentRefused(_logger, $"{id} is not an agent id");
            throw ApiException.PermissionDenied(NotAnAgentMessage);
        }

        var serial = certificate.SerialNumber;
        var node = await _nodes.AuthenticateAsync(id, serial, cancellationToken).ConfigureAwait(false);
        return (node, serial);
    }

    // The CA certificates, as intermediates: agent SVIDs of an upstream-signed CA chain through
    // them to the upstream root in the bundle. Reloaded when the bundle's sequence changes.
    // The bundle object is kept per sequence too: the verifier caches verified paths per bundle
    // instance, so a new object on every call would make every agent call a cold verification.
    private async Task<Trust> GetTrustAsync(StoredBundle stored, CancellationToken cancellationToken)
    {
        var sequence = stored.Bundle.SequenceNumber;
        var cached = _trust;
        if (cached is not null && cached.Sequence == sequence)
        {
            return cached;
        }

        var authorities = await _ca.ListAuthoritiesAsync(AuthorityKind.X509, cancellationToken).ConfigureAwait(false);
        var certificates = ImmutableArray.CreateBuilder<X509Certificate2>();
        foreach (var authority in authorities)
        {
            if (authority.CertificateDer is null || authority.UpstreamChainDer is not { Length: > 0 } upstream)
            {
                continue; // self-signed: the certificate is itself in the bundle
            }

            certificates.Add(X509CertificateLoader.LoadCertificate(authority.CertificateDer));
            certificates.AddRange(X509Bundle.FromDer(_ca.TrustDomain, upstream).Authorities);
        }

        var result = new Trust(sequence, stored.Bundle.ToX509Bundle(), certificates.ToImmutable());
        _trust = result;
        return result;
    }

    private sealed record Trust(ulong? Sequence, X509Bundle Bundle, ImmutableArray<X509Certificate2> Intermediates);
}
