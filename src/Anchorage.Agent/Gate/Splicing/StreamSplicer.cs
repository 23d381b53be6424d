namespace Anchorage.Agent.Gate.Splicing;

/// <summary>
/// Splices two sides of a connection: both directions run until each side has finished sending
/// (a side's end of stream is passed on as a half-close), then both sides are closed; cancelling
/// cuts both at once, and so does a direction that fails (a side reset or broken: a tunnel stream
/// reset by the peer gate must not leave the caller waiting on the direction still open).
/// </summary>
internal static class StreamSplicer
{
    /// <summary>
    /// Splices <paramref name="local"/> and <paramref name="remote"/> until both directions end;
    /// <paramref name="sent"/> counts the bytes carried local to remote, <paramref name="received"/>
    /// remote to local.
    /// </summary>
    public static async Task<SpliceOutcome> SpliceAsync(
        ISpliceEnd local, ISpliceEnd remote, ByteCounter? sent, ByteCounter? received, CancellationToken cancellationToken)
    {
        var toRemote = PumpAsync(local, remote, sent, cancellationToken);
        var fromRemote = PumpAsync(remote, local, received, cancellationToken);
        try
        {
            await Task.WhenAll(toRemote, fromRemote).ConfigureAwait(false);
        }
        finally
        {
            local.Abort();
            remote.Abort();
        }

        return new SpliceOutcome(await toRemote.ConfigureAwait(false), await fromRemote.ConfigureAwait(false));
    }

    private static async Task<StreamCopyOutcome> PumpAsync(ISpliceEnd from, ISpliceEnd to, ByteCounter? counter, CancellationToken cancellationToken)
    {
        var outcome = await StreamCopier.CopyAsync(from.Stream, to.Stream, counter, null, cancellationToken).ConfigureAwait(false);
        if (outcome.Result != StreamCopyResult.Completed)
        {
            from.Abort();
            to.Abort();
            return outcome;
        }

        try
        {
            await to.CompleteWritesAsync().ConfigureAwait(false);
            return outcome;
        }
        catch (Exception e) when (StreamCopier.IsOrdinary(e))
        {
            return outcome with { Result = StreamCopyResult.DestinationFailed, Error = e };
        }
    }
}
