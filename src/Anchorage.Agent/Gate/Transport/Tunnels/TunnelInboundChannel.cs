namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// One extended CONNECT stream of a tunnel (inbound side). Until <see cref="OpenAsync"/> the
/// stream is only requested: disposing it then answers with <see cref="RefusalStatus"/> (403
/// unless set), which closes this stream only. Open, it answers 200 and carries the bytes;
/// completing writes ends the response (END_STREAM); aborting resets this stream only.
/// </summary>
internal sealed class TunnelInboundChannel : GateChannel
{
    private readonly TunnelStream _stream;
    private bool _open;

    public TunnelInboundChannel(TunnelStream stream, TunnelConnection tunnel, string? senderConnectionId)
    {
        _stream = stream;
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
    public int RefusalStatus { get; set; } = 403;

    public override Stream Stream => _open ? _stream : throw new InvalidOperationException("the tunnel stream is not open");

    public override ValueTask OpenAsync()
    {
        _open = true;
        _stream.Respond(200);
        return ValueTask.CompletedTask;
    }

    public override ValueTask CompleteWritesAsync()
    {
        _stream.CompleteWrites();
        return ValueTask.CompletedTask;
    }

    // RST_STREAM (CANCEL): this stream only.
    public override void Abort() => _stream.Reset();

    // Refused: the status ends the stream. Open: a stream not ended both ways is reset.
    public override ValueTask DisposeAsync()
    {
        if (_open)
        {
            _stream.Dispose();
        }
        else
        {
            _stream.Refuse(RefusalStatus);
        }

        return ValueTask.CompletedTask;
    }
}
