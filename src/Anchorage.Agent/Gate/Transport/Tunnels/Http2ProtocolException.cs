namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>The peer broke HTTP/2 (a connection error, RFC 9113 §5.4.1): the tunnel closes with GOAWAY carrying <see cref="Error"/>.</summary>
internal sealed class Http2ProtocolException(string message, uint error = Http2Frames.ErrorProtocol) : IOException(message)
{
    public uint Error => error;
}
