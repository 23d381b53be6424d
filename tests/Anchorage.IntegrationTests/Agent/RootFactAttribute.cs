namespace Anchorage.IntegrationTests.Agent;

/// <summary>A fact that needs root and setpriv (util-linux) to run a client as another uid.</summary>
internal sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/bin/setpriv"))
        {
            Skip = "needs root and /usr/bin/setpriv";
        }
    }
}
