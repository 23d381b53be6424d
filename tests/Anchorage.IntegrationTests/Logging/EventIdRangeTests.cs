using System.Reflection;
using Anchorage.Agent;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Server.Hosting;
using Anchorage.WorkloadApi.Server;
using Microsoft.Extensions.Logging;

namespace Anchorage.IntegrationTests.Logging;

/// <summary>
/// Every component logs in a block of 100 event ids of its own (docs/architecture.md lists them),
/// so an operator's alert on an id means one thing whichever process logged it. The hosts'
/// assemblies (server, agent, shared hosting, Workload API server); the ASP.NET Core SDK keeps 9000-9099.
/// </summary>
public sealed class EventIdRangeTests
{
    private static readonly Assembly[] Products =
    [
        typeof(ServerApp).Assembly,
        typeof(AgentApp).Assembly,
        typeof(AuditLog).Assembly,
        typeof(WorkloadApiService).Assembly,
    ];

    [Fact]
    public void LoggerMessages_EveryClass_OwnsOneHundredBlockNoOtherClassUses()
    {
        var events = Products
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .Select(m => (Type: t.FullName!, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>())))
            .Where(e => e.Attribute is not null)
            .Select(e => (e.Type, Id: e.Attribute!.EventId))
            .ToList();
        Assert.True(events.Count > 100, $"only {events.Count} [LoggerMessage] methods found");

        var blocksPerClass = events.GroupBy(e => e.Type).ToDictionary(g => g.Key, g => g.Select(e => e.Id / 100).Distinct().ToArray());
        Assert.All(blocksPerClass, c => Assert.True(c.Value.Length == 1, $"{c.Key} logs in blocks {string.Join(", ", c.Value.Select(b => b * 100))}"));

        var classesPerBlock = blocksPerClass.GroupBy(c => c.Value[0]).Where(g => g.Count() > 1).Select(g => $"{g.Key * 100}: {string.Join(", ", g.Select(c => c.Key))}");
        Assert.Empty(classesPerBlock);
        Assert.Empty(events.GroupBy(e => e.Id).Where(g => g.Count() > 1).Select(g => g.Key));
    }
}
