namespace Anchorage.Agent.Gate.Splicing;

/// <summary>The ordinary ways one direction of a splice ends (a result, not an exception).</summary>
internal enum StreamCopyResult
{
    /// <summary>The source finished sending (read returned end of stream).</summary>
    Completed,

    /// <summary>Reading the source failed (reset, closed under the copy).</summary>
    SourceFailed,

    /// <summary>Writing the destination, or finishing it, failed.</summary>
    DestinationFailed,

    /// <summary>The copy was cancelled (the gate closed the connection).</summary>
    Canceled,
}
