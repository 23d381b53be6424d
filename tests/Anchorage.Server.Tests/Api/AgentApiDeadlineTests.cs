using System.Buffers.Binary;
using System.Net;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Tls;

namespace Anchorage.Server.Tests.Api;

/// <summary>
/// A sender that starts a message and stalls cannot hold the server's buffer: the agent API aborts
/// a request whose body has not arrived in full within the deadline, while a server-streaming call
/// (whose request ended at once) lives on past it.
/// </summary>
public sealed class AgentApiDeadlineTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task AttestJoinToken_SenderStallsMidMessage_AbortedWhileAWatchOutlivesTheDeadline()
    {
        await using var server = await ApiTestServer.StartAsync(agentRequestBodyDeadline: TimeSpan.FromSeconds(2));
        var svid = await server.AttestAsync();
        using var watching = new CancellationTokenSource();
        using var watch = server.Agent(svid).WatchBundles(new WatchBundlesRequest(), cancellationToken: watching.Token);
        Assert.True(await watch.ResponseStream.MoveNext(watching.Token)); // the first message, at once

        using var handler = new SocketsHttpHandler { SslOptions = SpiffeTls.TlsClient(server.Bundle, Authorizer.Exact(ApiTestServer.ServerId)) };
        using var client = new HttpClient(handler);
        using var stalled = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{server.Host.AgentApiEndpoint.Port}/anchorage.agent.v1.AgentApi/AttestJoinToken")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StallingContent(),
        };
        stalled.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var outcome = await Record.ExceptionAsync(async () =>
        {
            using var response = await client.SendAsync(stalled, HttpCompletionOption.ResponseHeadersRead, giveUp.Token);
            await response.Content.ReadAsByteArrayAsync(giveUp.Token);
        });

        // The server ended the stalled request (the client's own 60 s limit did not).
        Assert.False(giveUp.IsCancellationRequested, "the stalled request was not aborted by the server");
        Assert.NotNull(outcome);

        // Positive control: the watch opened before the stall, older than the deadline now, still delivers a change.
        await server.Ca.PrepareAsync(AuthorityKind.X509, CancellationToken.None);
        Assert.True(await watch.ResponseStream.MoveNext(watching.Token).WaitAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>A gRPC frame header announcing 1 MiB, 1,000 bytes of it, then nothing until cancelled.</summary>
    private sealed class StallingContent : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var header = new byte[5];
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), 1024 * 1024);
            await stream.WriteAsync(header, cancellationToken);
            await stream.WriteAsync(new byte[1000], cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
