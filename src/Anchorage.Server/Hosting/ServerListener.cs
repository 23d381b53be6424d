namespace Anchorage.Server.Hosting;

/// <summary>The server's listeners; every endpoint is reachable on the listeners it names only.</summary>
public enum ServerListener
{
    /// <summary>gRPC over mutual TLS for agents (<c>listen.agentApi</c>).</summary>
    AgentApi,

    /// <summary>gRPC over the admin unix socket, callers checked by uid (<c>listen.adminSocket</c>).</summary>
    Admin,

    /// <summary>Plain HTTP/1.1: <c>/live</c>, <c>/ready</c>, <c>/metrics</c> (<c>listen.health</c>).</summary>
    Health,

    /// <summary>HTTPS (HTTP/1.1 and HTTP/2), no client authentication: <c>GET /</c> serves the trust bundle (<c>federation.bundleEndpoint.listen</c>).</summary>
    BundleEndpoint,

    /// <summary>The read-only web console: HTTP/1.1 (HTTPS with <c>console.servingCert</c>), session cookie required (<c>console.listen</c>).</summary>
    Console,
}
