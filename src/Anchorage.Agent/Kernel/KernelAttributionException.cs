using Anchorage.Spiffe;

namespace Anchorage.Agent.Kernel;

/// <summary>The eBPF attribution programs cannot be used here; the message says why in one short line.</summary>
public sealed class KernelAttributionException : SpiffeException
{
    public KernelAttributionException(string message)
        : base(message)
    {
    }

    public KernelAttributionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
