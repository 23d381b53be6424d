namespace Anchorage.Agent.Gate.Splicing;

/// <summary>How both directions of a splice ended.</summary>
internal readonly record struct SpliceOutcome(StreamCopyOutcome ToRemote, StreamCopyOutcome FromRemote);
