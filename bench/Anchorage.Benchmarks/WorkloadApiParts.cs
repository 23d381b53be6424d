using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Protos.Workload;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Anchorage.Benchmarks;

/// <summary>
/// <c>workload-api-parts</c> mode: where a FetchX509SVID call's time goes, piece by piece, single
/// thread, in this process (so without the agent's scheduling): the attestation the agent runs on
/// every call (<see cref="UnixWorkloadAttestor"/> on this process: /etc/passwd, /etc/group,
/// /proc/pid/status, the exe link, an open+statx of the exe, two pidfd liveness checks; the
/// SHA-256 is cached), opening a pidfd for a pid, and serializing and parsing the agent's real
/// first response (fetched once from <c>--socket</c>). Prints <c># part: N us/op</c> lines.
/// </summary>
internal static class WorkloadApiParts
{
    public static int Run(string[] args)
    {
        string? socket = args is ["--socket", var path] ? path : null;
        if (args.Length > 0 && socket is null)
        {
            Console.Error.WriteLine("usage: workload-api-parts [--socket PATH]");
            return 2;
        }

        var attestor = new UnixWorkloadAttestor();
        using var self = PeerCredentialsReader.FromProcessId(Environment.ProcessId);
        Report("attest this process (UnixWorkloadAttestor.AttestAsync, hash cached)", () => attestor.AttestAsync(self, CancellationToken.None).AsTask().GetAwaiter().GetResult());
        Report("read /etc/passwd + /etc/group", () =>
        {
            File.ReadAllText("/etc/passwd");
            File.ReadAllText("/etc/group");
        });
        Report("read /proc/self/status", () => File.ReadAllText("/proc/self/status"));
        Report("open pidfd (PeerCredentialsReader.FromProcessId)", () => PeerCredentialsReader.FromProcessId(Environment.ProcessId).Dispose());

        // WorkloadCache.Resolve's scan, emulated with the same collection types (the cache's are
        // internal): 1000 entries of one selector in an ImmutableDictionary, each a FrozenSet,
        // checked against the caller's selectors in a HashSet, as for this process.
        var caller = new HashSet<string>(["unix:uid:0", "unix:user:root", "unix:gid:0", "unix:group:root", "unix:path:/usr/bin/dotnet", "unix:sha256:" + new string('a', 64)], StringComparer.Ordinal);
        var entries = Enumerable.Range(0, 1000).ToImmutableDictionary(
            i => i.ToString("x32", CultureInfo.InvariantCulture),
            i => new[] { "unix:uid:" + (i == 0 ? 0 : 100000 + i).ToString(CultureInfo.InvariantCulture) }.ToFrozenSet(StringComparer.Ordinal),
            StringComparer.Ordinal);
        Report("scan 1000 entries (emulated WorkloadCache.Resolve loop)", () =>
        {
            var have = new HashSet<string>(caller, StringComparer.Ordinal);
            var matched = 0;
            foreach (var selectors in entries.Values)
            {
                var all = true;
                foreach (var selector in selectors)
                {
                    if (!((IReadOnlySet<string>)have).Contains(selector))
                    {
                        all = false;
                        break;
                    }
                }

                matched += all ? 1 : 0;
            }

            if (matched != 1)
            {
                throw new InvalidOperationException("scan");
            }
        });
        if (socket is null)
        {
            return 0;
        }

        var response = FetchOnce(socket);
        var bytes = response.ToByteArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# first X509SVIDResponse: {bytes.Length} bytes, {response.Svids.Count} svid(s)"));
        Report("serialize the X509SVIDResponse", () => response.ToByteArray());
        Report("parse the X509SVIDResponse", () => X509SVIDResponse.Parser.ParseFrom(bytes));
        return 0;
    }

    private static void Report(string name, Action action)
    {
        for (var i = 0; i < 200; i++)
        {
            action();
        }

        var n = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(1))
        {
            action();
            n++;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {name}: {sw.Elapsed.TotalMicroseconds / n:0} us/op ({n} ops)"));
    }

    private static X509SVIDResponse FetchOnce(string path)
    {
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                    return new NetworkStream(s, ownsSocket: true);
                },
            },
        });
        var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        using var call = client.FetchX509SVID(new X509SVIDRequest(), [new("workload.spiffe.io", "true")]);
        return call.ResponseStream.MoveNext(CancellationToken.None).GetAwaiter().GetResult()
            ? call.ResponseStream.Current
            : throw new InvalidDataException("no response");
    }
}
