using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>A TLS connection (from <see cref="MtlsProbe"/>) kept open to see whether the gate closes it.</summary>
internal sealed class HeldConnection(SslStream tls) : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    private readonly StreamReader _reader = new(tls, new UTF8Encoding(false), leaveOpen: true);

    /// <summary>Sends a line and reads the reply; null when the gate closed or refused the connection.</summary>
    public async Task<string?> CallAsync(string line, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CallTimeout);
        try
        {
            await tls.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), timeout.Token).ConfigureAwait(false);
            return await _reader.ReadLineAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>Waits up to <paramref name="within"/> for the other side to close; true when it did.</summary>
    public async Task<bool> ClosedWithinAsync(TimeSpan within, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(within);
        try
        {
            return await _reader.ReadLineAsync(timeout.Token).ConfigureAwait(false) is null;
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        tls.Dispose();
    }
}
