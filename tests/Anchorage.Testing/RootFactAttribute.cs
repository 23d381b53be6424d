using Xunit;

namespace Anchorage.Testing;

/// <summary>
/// A fact that needs root (to give files to another uid, run a child as another user, create
/// namespaces); with <c>setpriv: true</c> also setpriv (util-linux) to run a child as another uid.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute(bool setpriv = false)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = setpriv ? "needs root and /usr/bin/setpriv" : "needs root";
        }
        else if (setpriv && !File.Exists("/usr/bin/setpriv"))
        {
            Skip = "needs root and /usr/bin/setpriv";
        }
    }
}
