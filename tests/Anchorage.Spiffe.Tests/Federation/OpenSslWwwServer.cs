using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Spiffe.Tests.Federation;

/// <summary>
/// <c>openssl s_server -WWW</c> on 127.0.0.1: an independent TLS and HTTP/1.0 implementation that
/// serves the files of its working directory, as a bundle endpoint nobody here wrote.
/// </summary>
public sealed class OpenSslWwwServer : IDisposable
{
    private readonly Process _process;

    private OpenSslWwwServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public Uri Url(string path) => new($"https://127.0.0.1:{Port}{path}");

    /// <summary>Starts s_server in <paramref name="directory"/> with the certificate and key files there.</summary>
    public static async Task<OpenSslWwwServer> StartAsync(string directory, string certFile, string keyFile)
    {
        // openssl needs a port number up front: take a free one from the kernel.
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var info = new ProcessStartInfo("openssl")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "s_server", "-accept", $"127.0.0.1:{port}", "-cert", certFile, "-key", keyFile, "-WWW" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("openssl did not start");
        var server = new OpenSslWwwServer(process, port);
        try
        {
            // s_server prints ACCEPT once it listens.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.Contains("ACCEPT", StringComparison.Ordinal))
                {
                    return server;
                }
            }

            throw new InvalidOperationException("openssl s_server exited: " + await process.StandardError.ReadToEndAsync());
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
