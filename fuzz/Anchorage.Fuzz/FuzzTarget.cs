namespace Anchorage.Fuzz;

/// <summary>
/// One fuzz target: a parser fed arbitrary bytes. <see cref="Run"/> catches exactly the failures the
/// parser documents for bad input (<see cref="Expected"/>); anything else escapes and is a crash,
/// as is a broken round-trip property, which the target reports as <see cref="FuzzPropertyException"/>.
/// </summary>
internal abstract class FuzzTarget
{
    /// <summary>The name given to <c>fuzz/run</c>.</summary>
    public abstract string Name { get; }

    /// <summary>What the parser is documented to do with bad input (the failures that are not crashes).</summary>
    public abstract string Expected { get; }

    /// <summary>Runs the parser on <paramref name="input"/>; throws only for a crash.</summary>
    public abstract void Run(byte[] input);
}
