// An ASP.NET Core minimal API secured with SPIFFE mTLS: Kestrel presents the SVID the Workload API
// gives this process (the current one at every handshake, so rotation needs no restart), accepts
// only clients of its own trust domain, and GET /hello answers only the allowed caller.
// Usage: AspNetCoreMtls <port> <allowed-caller-spiffe-id>   (Workload API from SPIFFE_ENDPOINT_SOCKET)
using System.Net;
using System.Security.Claims;
using Anchorage.AspNetCore.Authentication;
using Anchorage.AspNetCore.Authorization;
using Anchorage.AspNetCore.Health;
using Anchorage.AspNetCore.Kestrel;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.WorkloadApi;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: AspNetCoreMtls <port> <allowed-caller-spiffe-id>");
    return 2;
}

var port = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
var allowed = SpiffeId.Parse(args[1]);

var builder = WebApplication.CreateSlimBuilder();
builder.Services.AddSpiffeWorkloadApi();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseSpiffeMtls(Authorizer.MemberOf(allowed.TrustDomain))));
builder.Services.AddAuthentication(SpiffeAuthenticationDefaults.X509Scheme).AddSpiffeX509();
builder.Services.AddAuthorization();
builder.Services.AddHealthChecks().AddSpiffe();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();
var source = app.Services.GetRequiredService<X509Source>();
app.MapGet("/hello", (ClaimsPrincipal user, HttpContext context) =>
    $"hello {user.FindFirst(SpiffeClaimTypes.SpiffeId)!.Value} (certificate {context.Connection.ClientCertificate?.SerialNumber}), I am {source.GetX509Svid().Id}")
    .RequireSpiffeId(allowed);
app.MapHealthChecks("/healthz");

using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
await source.WaitUntilUpdatedAsync(startup.Token);
await app.StartAsync();
Console.WriteLine($"serving as {source.GetX509Svid().Id} on https://127.0.0.1:{port}, allowing {allowed}");
await app.WaitForShutdownAsync();
return 0;
