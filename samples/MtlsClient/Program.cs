// An mTLS client: presents the SVID the Workload API gives this process and talks only to a
// server whose SVID carries the expected SPIFFE ID.
// Usage: MtlsClient <port> <expected-server-spiffe-id>   (Workload API from SPIFFE_ENDPOINT_SOCKET)
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Tls;
using Anchorage.WorkloadApi;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: MtlsClient <port> <expected-server-spiffe-id>");
    return 2;
}

var port = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
var expected = SpiffeId.Parse(args[1]);
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

await using var client = new WorkloadApiClient();
await using var source = await X509Source.CreateAsync(client, cancellationToken: timeout.Token);

using var tcp = new TcpClient();
await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
await using var tls = new SslStream(tcp.GetStream());
try
{
    await tls.AuthenticateAsClientAsync(SpiffeTls.MtlsClient(source, source, Authorizer.Exact(expected)), timeout.Token);
}
catch (System.Security.Authentication.AuthenticationException ex)
{
    Console.Error.WriteLine($"server not authenticated: {ex.Message}");
    return 1;
}

using var reader = new StreamReader(tls);
await using var writer = new StreamWriter(tls) { AutoFlush = true };
await writer.WriteLineAsync($"hello from {source.GetX509Svid().Id}");
Console.WriteLine(await reader.ReadLineAsync(timeout.Token));
return 0;
