using System.Net.Security;
using Anchorage.AspNetCore.Internal;
using Anchorage.AspNetCore.Kestrel.Internal;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.WorkloadApi;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.AspNetCore.Kestrel;

/// <summary>
/// Kestrel SPIFFE mTLS (go-spiffe's <c>tlsconfig.MTLSServerConfig</c>): every handshake builds its
/// options with the X.509-SVID current at that moment (rotation without restart), requires a client
/// X.509-SVID, verifies it with the bundle of the client's own trust domain (X509-SVID §5) and asks
/// the <see cref="Authorizer"/>. A refused client fails the handshake: the caller sees a TLS error,
/// never an HTTP response. TLS session resumption is off: every connection is verified in full.
/// </summary>
public static class SpiffeKestrelExtensions
{
    /// <summary>
    /// SPIFFE mTLS on every Kestrel endpoint (those from <c>urls</c> and <c>Listen*</c> alike), with
    /// the SVID and bundles of the <see cref="X509Source"/> registered by
    /// <see cref="WorkloadApiServiceCollectionExtensions.AddSpiffeWorkloadApi"/> (registered here
    /// with default options when missing). The first handshakes wait for the source's first update.
    /// </summary>
    public static IWebHostBuilder UseSpiffeMtls(this IWebHostBuilder builder, Authorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(authorizer);
        builder.ConfigureServices(services =>
        {
            if (!services.Any(d => d.ServiceType == typeof(X509Source)))
            {
                services.AddSpiffeWorkloadApi();
            }
        });
        return builder.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.UseSpiffeMtls(authorizer)));
    }

    /// <summary>
    /// SPIFFE mTLS on one endpoint with the <see cref="X509Source"/> from the application's services.
    /// </summary>
    public static ListenOptions UseSpiffeMtls(this ListenOptions listenOptions, Authorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var services = listenOptions.ApplicationServices;
        var source = services.GetService<X509Source>()
            ?? throw new InvalidOperationException("UseSpiffeMtls needs an X509Source: call services.AddSpiffeWorkloadApi()");
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("Anchorage.AspNetCore.Kestrel") ?? NullLogger.Instance;
        return listenOptions.UseSpiffeMtls(source, source, authorizer, logger: logger);
    }

    /// <summary>SPIFFE mTLS on one endpoint with explicit sources.</summary>
    /// <param name="listenOptions">The endpoint.</param>
    /// <param name="svids">The server's SVID, read at every handshake.</param>
    /// <param name="bundles">The X.509 bundles that verify clients, read at every handshake.</param>
    /// <param name="authorizer">Which verified client IDs are allowed.</param>
    /// <param name="timeProvider">The clock for certificate validity; the system clock when null.</param>
    /// <param name="logger">Where refused clients are logged; none when null.</param>
    public static ListenOptions UseSpiffeMtls(
        this ListenOptions listenOptions,
        IX509SvidSource svids,
        IX509BundleSource bundles,
        Authorizer authorizer,
        TimeProvider? timeProvider = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(svids);
        ArgumentNullException.ThrowIfNull(bundles);
        ArgumentNullException.ThrowIfNull(authorizer);
        var log = logger ?? NullLogger.Instance;
        return listenOptions.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = async context =>
            {
                await SourceReadiness.WaitAsync(svids, bundles, context.CancellationToken).ConfigureAwait(false);
                var feature = new SpiffePeerFeature();
                context.Connection.Features.Set(feature);
                var options = SpiffeTls.MtlsServer(svids, bundles, new RecordingAuthorizer(authorizer, feature, log), timeProvider);

                // Stated here too, whatever the core's defaults: a resumed session skips the
                // verification of the client's chain.
                options.AllowTlsResume = false;
                options.ApplicationProtocols = Alpn(listenOptions.Protocols);
                return options;
            },
        });
    }

    private static List<SslApplicationProtocol> Alpn(HttpProtocols protocols)
    {
        var list = new List<SslApplicationProtocol>();
        if (protocols.HasFlag(HttpProtocols.Http2))
        {
            list.Add(SslApplicationProtocol.Http2);
        }

        if (protocols.HasFlag(HttpProtocols.Http1))
        {
            list.Add(SslApplicationProtocol.Http11);
        }

        return list;
    }
}
