namespace Anchorage.Agent.Gate.Splicing;

/// <summary>How one direction of a splice ended and how many bytes it carried.</summary>
internal readonly record struct StreamCopyOutcome(StreamCopyResult Result, long Bytes, Exception? Error);
