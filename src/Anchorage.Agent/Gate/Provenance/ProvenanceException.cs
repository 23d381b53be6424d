namespace Anchorage.Agent.Gate.Provenance;

/// <summary>An origin statement or a tunnel's provenance hello was refused; the message says why, in one line.</summary>
internal sealed class ProvenanceException(string message) : Exception(message);
