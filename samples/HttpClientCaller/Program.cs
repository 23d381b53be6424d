// A caller using HttpClient from IHttpClientFactory with SPIFFE: mTLS with the SVID the Workload
// API gives this process (rotated without a restart), or a JWT-SVID bearer token for an audience.
// It sends requests for the given number of seconds (at least one request) and prints each new
// answer, then one summary line: "summary ok=<n> failed=<n>".
// Usage: HttpClientCaller mtls <url> <expected-server-spiffe-id> <seconds>
//        HttpClientCaller jwt <url> <audience> <seconds>
using System.Globalization;
using Anchorage.AspNetCore.Http;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.WorkloadApi;
using Microsoft.Extensions.DependencyInjection;

if (args.Length != 4 || args[0] is not ("mtls" or "jwt"))
{
    Console.Error.WriteLine("usage: HttpClientCaller mtls <url> <expected-server-spiffe-id> <seconds> | jwt <url> <audience> <seconds>");
    return 2;
}

var url = new Uri(args[1]);
var duration = TimeSpan.FromSeconds(double.Parse(args[3], CultureInfo.InvariantCulture));
var services = new ServiceCollection().AddSpiffeWorkloadApi();
var http = services.AddHttpClient("server");
if (args[0] == "mtls")
{
    http.AddSpiffeMtls(Authorizer.Exact(SpiffeId.Parse(args[2])));
}
else
{
    http.AddJwtSvid(args[2]);
}

await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("server");
client.Timeout = TimeSpan.FromSeconds(30);

int ok = 0, failed = 0;
string? last = null;
var until = DateTimeOffset.UtcNow + duration;
do
{
    try
    {
        using var response = await client.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            failed++;
            Console.WriteLine($"refused: {(int)response.StatusCode}");
            continue;
        }

        ok++;
        if (body != last)
        {
            Console.WriteLine(body);
            last = body;
        }
    }
    catch (HttpRequestException ex)
    {
        failed++;
        Console.WriteLine($"failed: {ex.Message} {ex.InnerException?.Message}");
    }

    await Task.Delay(20);
}
while (DateTimeOffset.UtcNow < until);

Console.WriteLine($"summary ok={ok} failed={failed}");
return failed == 0 ? 0 : 1;
