using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Anchorage.Spiffe.Tests.Federation;

/// <summary>
/// A Kestrel HTTPS server on 127.0.0.1 with one certificate, answering each path with whatever a
/// test put in <see cref="Routes"/> (404 otherwise): a bundle endpoint that can misbehave on demand.
/// </summary>
public sealed class BundleServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BundleServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Path -> response.</summary>
    public ConcurrentDictionary<string, Func<HttpContext, Task>> Routes { get; } = new(StringComparer.Ordinal);

    /// <summary>How many requests reached the server (all paths).</summary>
    public int Requests => _requests;

    private int _requests;

    public Uri Url(string path, string host = "127.0.0.1") => new($"https://{host}:{Port}{path}");

    /// <summary>Starts a server presenting <paramref name="certificate"/> (with its private key) and <paramref name="chain"/>.</summary>
    public static async Task<BundleServer> StartAsync(X509Certificate2 certificate, X509Certificate2Collection? chain = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https =>
        {
            https.ServerCertificate = certificate;
            https.ServerCertificateChain = chain;
        })));
        var app = builder.Build();
        BundleServer? server = null;
        app.Run(async context =>
        {
            Interlocked.Increment(ref server!._requests);
            if (server.Routes.TryGetValue(context.Request.Path.Value ?? "/", out var respond))
            {
                await respond(context);
            }
            else
            {
                context.Response.StatusCode = 404;
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new BundleServer(app, new Uri(address).Port);
        return server;
    }

    public static Func<HttpContext, Task> Json(byte[] body) => async context =>
    {
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body);
    };

    /// <summary>The body in chunks without a Content-Length, so the client only learns the size by reading.</summary>
    public static Func<HttpContext, Task> Chunked(byte[] body) => async context =>
    {
        context.Response.ContentType = "application/json";
        for (var offset = 0; offset < body.Length; offset += 8192)
        {
            await context.Response.Body.WriteAsync(body.AsMemory(offset, Math.Min(8192, body.Length - offset)));
            await context.Response.Body.FlushAsync();
        }
    };

    /// <summary>An endless body: only a client that stops reading at its limit ever finishes.</summary>
    public static Func<HttpContext, Task> Endless() => async context =>
    {
        context.Response.ContentType = "application/json";
        var chunk = new byte[8192];
        chunk.AsSpan().Fill((byte)' ');
        try
        {
            while (!context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
    };

    public static Func<HttpContext, Task> Status(int status) => context =>
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    };

    public static Func<HttpContext, Task> Redirect(string location, int status = 302) => context =>
    {
        context.Response.StatusCode = status;
        context.Response.Headers.Location = location;
        return Task.CompletedTask;
    };

    /// <summary>Signals <paramref name="arrived"/>, then answers with <paramref name="then"/> once <paramref name="release"/> completes.</summary>
    public static Func<HttpContext, Task> Wait(TaskCompletionSource arrived, Task release, Func<HttpContext, Task> then) => async context =>
    {
        arrived.TrySetResult();
        try
        {
            await release.WaitAsync(context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await then(context);
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
