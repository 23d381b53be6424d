namespace Anchorage.Agent.Gate.Splicing;

/// <summary>One side of a spliced connection: a plain socket, a TLS connection, later a tunnel stream.</summary>
internal interface ISpliceEnd
{
    /// <summary>What is read from and written to this side.</summary>
    Stream Stream { get; }

    /// <summary>Tells this side nothing more will be written (half-close); reading goes on.</summary>
    ValueTask CompleteWritesAsync();

    /// <summary>Closes this side at once, both ways.</summary>
    void Abort();
}
