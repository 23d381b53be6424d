namespace Anchorage.Hosting.Tests.Files;

/// <summary>A fact that needs root (to give a directory to another uid, as an attacker's would be).</summary>
internal sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "needs root";
        }
    }
}
