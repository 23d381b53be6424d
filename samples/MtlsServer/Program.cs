// An mTLS echo server: presents the SVID the Workload API gives this process (rotated for free:
// every handshake asks the X509Source again) and accepts only the configured client SPIFFE ID.
// Usage: MtlsServer <port> <allowed-client-spiffe-id>   (Workload API from SPIFFE_ENDPOINT_SOCKET)
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Tls;
using Anchorage.WorkloadApi;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: MtlsServer <port> <allowed-client-spiffe-id>");
    return 2;
}

var port = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
var allowed = SpiffeId.Parse(args[1]);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

await using var client = new WorkloadApiClient();
using var startup = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
startup.CancelAfter(TimeSpan.FromSeconds(30));
await using var source = await X509Source.CreateAsync(client, cancellationToken: startup.Token);
Console.WriteLine($"serving as {source.GetX509Svid().Id} on 127.0.0.1:{port}, allowing {allowed}");

using var listener = new TcpListener(IPAddress.Loopback, port);
listener.Start();
try
{
    while (true)
    {
        var tcp = await listener.AcceptTcpClientAsync(stop.Token);
        _ = Task.Run(async () =>
        {
            using (tcp)
            {
                await using var tls = new SslStream(tcp.GetStream());
                try
                {
                    await tls.AuthenticateAsServerAsync(SpiffeTls.MtlsServer(source, source, Authorizer.Exact(allowed)), stop.Token);
                }
                catch (System.Security.Authentication.AuthenticationException ex)
                {
                    Console.WriteLine($"refused a connection: {ex.Message}");
                    return;
                }

                using var reader = new StreamReader(tls);
                await using var writer = new StreamWriter(tls) { AutoFlush = true };
                var line = await reader.ReadLineAsync(stop.Token);
                Console.WriteLine($"{SpiffeTls.PeerId(tls)} says: {line}");
                await writer.WriteLineAsync($"hello {SpiffeTls.PeerId(tls)}, I am {source.GetX509Svid().Id}");
            }
        });
    }
}
catch (OperationCanceledException)
{
}

return 0;
