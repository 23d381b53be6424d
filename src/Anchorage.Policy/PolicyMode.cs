namespace Anchorage.Policy;

/// <summary>What the gates do with a policy's denials (<c>spec.mode</c>).</summary>
public enum PolicyMode
{
    /// <summary>The default: a denied connection is refused.</summary>
    Enforce,

    /// <summary>
    /// Shadow mode: the gate decides as it would under <see cref="Enforce"/>, records
    /// <c>would-deny</c> with the deciding rule and lets the connection through, so a policy can be
    /// rolled out and watched before it refuses anything.
    /// </summary>
    Audit,
}
