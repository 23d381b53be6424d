namespace Anchorage.Cli.Internal;

/// <summary>A clock stopped at one instant: how <c>--at</c> asks "would this have been valid then?".</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
