#if ANCHORAGE_LINKED_BACKOFF
namespace Anchorage.WorkloadApi.Internal;
#else
namespace Anchorage.Foundation.Retry;
#endif

/// <summary>How <see cref="Backoff"/> randomizes a step, so that many clients that failed together do not retry together.</summary>
#if ANCHORAGE_LINKED_BACKOFF
internal
#else
public
#endif
enum BackoffJitter
{
    /// <summary>Exactly the step: for a single waiter (a shortage in one process), where nobody else retries in step.</summary>
    None,

    /// <summary>"Equal jitter": a uniform time between half the step and the whole step; never sooner than half.</summary>
    Equal,

    /// <summary>"Full jitter": a uniform time between zero and the step; the widest spread.</summary>
    Full,
}
