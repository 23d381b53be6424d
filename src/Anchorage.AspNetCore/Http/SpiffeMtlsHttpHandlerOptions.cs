namespace Anchorage.AspNetCore.Http;

/// <summary>Options of <see cref="SpiffeMtlsHttpHandler"/>; every default is stated.</summary>
public sealed class SpiffeMtlsHttpHandlerOptions
{
    /// <summary>How long the pool of a rotated-out SVID lives on for requests already under way. Default 2 minutes.</summary>
    public TimeSpan RetiredPoolGrace { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long an idle pooled connection is kept. Default 1 minute (as <see cref="SocketsHttpHandler"/>).</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The clock for certificate validity and the retirement timer. Default the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Called on each new <see cref="SocketsHttpHandler"/> (timeouts, connection limits); it must
    /// not replace <see cref="SocketsHttpHandler.SslOptions"/>. Default null.
    /// </summary>
    public Action<SocketsHttpHandler>? ConfigureHandler { get; set; }
}
