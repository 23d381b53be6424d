namespace Anchorage.Cli.Commands.Demo.Internal;

/// <summary>
/// One step of <c>anchorage demo</c>: it acts on the shared <see cref="DemoContext"/> (the cluster
/// and what earlier steps left there) and checks that the outcome its <see cref="Title"/> promises
/// happened. Its number is its position in <see cref="DemoRun.Steps"/>, so no two steps share one.
/// </summary>
internal abstract class DemoStep
{
    /// <summary>The step's name: what <c>--sabotage</c> takes and the failure line names.</summary>
    public abstract string Name { get; }

    /// <summary>What the step does and the outcome it expects (its header).</summary>
    public abstract string Title { get; }

    /// <summary>Runs the step; what was seen, in one line, when it behaved.</summary>
    /// <exception cref="DemoStepException">It did not behave as <see cref="Title"/> says.</exception>
    public abstract Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken);
}
