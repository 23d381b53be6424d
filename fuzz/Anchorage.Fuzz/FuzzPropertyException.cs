namespace Anchorage.Fuzz;

/// <summary>A parser accepted input but broke a property it promises (e.g. Parse and TryParse disagree).</summary>
internal sealed class FuzzPropertyException(string message) : Exception(message)
{
    public static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzPropertyException(message);
        }
    }
}
