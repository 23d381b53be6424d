namespace Anchorage.IntegrationTests.Federation;

/// <summary>A fact that needs root and iproute2 to make network namespaces and a veth pair.</summary>
internal sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (NetworkNamespaces.Unavailable is { } reason)
        {
            Skip = "needs network namespaces: " + reason;
        }
    }
}
