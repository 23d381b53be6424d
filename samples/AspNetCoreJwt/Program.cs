// An ASP.NET Core minimal API secured with JWT-SVID bearer tokens: each request must carry a
// JWT-SVID for this service's audience, validated against the JWT bundles of the Workload API;
// GET /hello answers only the allowed caller.
// Usage: AspNetCoreJwt <port> <audience> <allowed-caller-spiffe-id>   (Workload API from SPIFFE_ENDPOINT_SOCKET)
using System.Net;
using System.Security.Claims;
using Anchorage.AspNetCore.Authentication;
using Anchorage.AspNetCore.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.WorkloadApi;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: AspNetCoreJwt <port> <audience> <allowed-caller-spiffe-id>");
    return 2;
}

var port = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
var audience = args[1];
var allowed = SpiffeId.Parse(args[2]);

var builder = WebApplication.CreateSlimBuilder();
builder.Services.AddSpiffeWorkloadApi();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
builder.Services.AddAuthentication(SpiffeAuthenticationDefaults.JwtSvidScheme).AddJwtSvid(audience);
builder.Services.AddAuthorization();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/hello", (ClaimsPrincipal user) => $"hello {user.FindFirst(SpiffeClaimTypes.SpiffeId)!.Value}").RequireSpiffeId(allowed);

using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
await app.Services.GetRequiredService<JwtSource>().WaitUntilUpdatedAsync(startup.Token);
await app.StartAsync();
Console.WriteLine($"serving JWT-SVID audience {audience} on http://127.0.0.1:{port}, allowing {allowed}");
await app.WaitForShutdownAsync();
return 0;
