using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>
/// Aborts an agent API request whose body has not arrived in full within a deadline. Every agent
/// API call sends one message and ends its request stream (unary and server-streaming calls only),
/// so a complete request is due at once; Kestrel's minimum data rate averages over the whole stream,
/// which a sender that sends fast and then stalls outlasts for minutes while its buffer is held.
/// </summary>
internal static class RequestBodyDeadline
{
    /// <summary>Wraps the request body so that the deadline ends when the body ends.</summary>
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next, TimeSpan deadline, TimeProvider time)
    {
        if (context.Features.Get<IRequestBodyPipeFeature>() is not { } feature)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var reader = new TrackingReader(feature.Reader);
        context.Features.Set<IRequestBodyPipeFeature>(new BodyFeature(reader));
        using var timer = time.CreateTimer(
            _ =>
            {
                if (!reader.Ended)
                {
                    context.Abort();
                }
            },
            null,
            deadline,
            Timeout.InfiniteTimeSpan);
        await next(context).ConfigureAwait(false);
    }

    private sealed class BodyFeature(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader { get; } = reader;
    }

    /// <summary>Passes every call through; notes when a read reports the end of the body.</summary>
    private sealed class TrackingReader(PipeReader inner) : PipeReader
    {
        private volatile bool _ended;

        public bool Ended => _ended;

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            _ended = true; // the reader is done with the body: nothing more is buffered for it
            inner.Complete(exception);
        }

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                _ended = true;
            }

            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result))
            {
                return false;
            }

            if (result.IsCompleted)
            {
                _ended = true;
            }

            return true;
        }
    }
}
