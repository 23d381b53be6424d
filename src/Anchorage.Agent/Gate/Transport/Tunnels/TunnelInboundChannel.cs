using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// One extended CONNECT stream of a tunnel (inbound side). Until <see cref="OpenAsync"/> the
/// stream is only requested: disposing it then answers with <see cref="RefusalStatus"/> (403
/// unless set), which closes this stream only. Open, it answers 200 and carries the bytes;
/// completing writes ends the response (END_STREAM); aborting resets this stream only.
/// </summary>
internal sealed class TunnelInboundChannel : GateChannel
{
    private readonly IFeatureCollection _features;
    private Stream? _stream;

    public TunnelInboundChannel(IFeatureCollection features, TunnelConnection tunnel, string? senderConnectionId)
    {
        _features = features;
        Tunnel = tunnel;
        SenderConnectionId = senderConnectionId;
    }

    public TunnelConnection Tunnel { get; }

    /// <summary>The sending gate's id of this connection (<see cref="TunnelProtocol.ConnectionIdHeader"/>), if it sent one.</summary>
    public string? SenderConnectionId { get; }

    /// <summary>The tunnel's provenance (its hello verified the sending agent); null: the tunnel carries none.</summary>
    public Provenance.ProvenanceSession? Provenance { get; init; }

    /// <summary>The stream's origin statement (<see cref="TunnelProtocol.OriginHeader"/>), if it sent one.</summary>
    public string? OriginStatement { get; init; }

    /// <summary>The status a refused stream is answered with.</summary>
    public int RefusalStatus { get; set; } = StatusCodes.Status403Forbidden;

    public override Stream Stream => _stream ?? throw new InvalidOperationException("the tunnel stream is not open");

    public override async ValueTask OpenAsync()
    {
        var connect = _features.Get<IHttpExtendedConnectFeature>()!;
        _stream = await connect.AcceptAsync().ConfigureAwait(false);
    }

    public override async ValueTask CompleteWritesAsync()
    {
        var body = _features.Get<IHttpResponseBodyFeature>()!;
        await body.CompleteAsync().ConfigureAwait(false);
    }

    // RST_STREAM (CANCEL): this stream only.
    public override void Abort()
    {
        if (_features.Get<IHttpResetFeature>() is { } reset)
        {
            reset.Reset(0x8);
            return;
        }

        _features.Get<IHttpRequestLifetimeFeature>()?.Abort();
    }

    public override ValueTask DisposeAsync()
    {
        if (_stream is null)
        {
            var response = _features.Get<IHttpResponseFeature>()!;
            if (!response.HasStarted)
            {
                response.StatusCode = RefusalStatus;
            }
        }

        return ValueTask.CompletedTask;
    }
}
