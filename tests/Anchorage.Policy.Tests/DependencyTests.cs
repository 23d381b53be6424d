using System.Reflection;

namespace Anchorage.Policy.Tests;

/// <summary>
/// The policy library is shared by the server, the agent and the offline CLI: it and what it
/// references (the core library, Anchorage.Foundation) stay free of ASP.NET Core and gRPC.
/// </summary>
public sealed class DependencyTests
{
    [Fact]
    public void PolicyAndWhatItReferences_NoAspNetCoreGrpcOrHosting()
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        Walk(typeof(PolicyDocument).Assembly, seen);

        // Positive control: the walk does reach the libraries Policy is built on.
        Assert.Contains("Anchorage.Foundation", seen);
        Assert.Contains("Anchorage.Spiffe", seen);
        Assert.Contains("YamlDotNet", seen);
        Assert.DoesNotContain(seen, n => n.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
            || n.StartsWith("Grpc", StringComparison.Ordinal)
            || n == "Anchorage.Hosting");
    }

    // Anchorage assemblies are followed; framework and package assemblies are only named.
    private static void Walk(Assembly assembly, SortedSet<string> seen)
    {
        foreach (var name in assembly.GetReferencedAssemblies())
        {
            if (seen.Add(name.Name!) && name.Name!.StartsWith("Anchorage.", StringComparison.Ordinal))
            {
                Walk(Assembly.Load(name), seen);
            }
        }
    }
}
