using Anchorage.Testing.Postgres;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// A fact of the datastore contract suite. The suite's methods are shared by every backend's class,
/// so an attribute cannot know which backend runs it; the discoverer looks at the concrete class and
/// skips the test there when the class is <see cref="RequiresPostgresAttribute"/> and no server is set.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("Anchorage.Server.Tests.DataStore.ContractFactDiscoverer", "Anchorage.Server.Tests")]
public sealed class ContractFactAttribute : FactAttribute
{
}

/// <summary>Discovers <see cref="ContractFactAttribute"/> tests, skipping them per concrete class.</summary>
public sealed class ContractFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(
        ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var display = discoveryOptions.MethodDisplayOrDefault();
        var displayOptions = discoveryOptions.MethodDisplayOptionsOrDefault();
        var needsPostgres = testMethod.TestClass.Class
            .GetCustomAttributes(typeof(RequiresPostgresAttribute).AssemblyQualifiedName!).Any();
        if (needsPostgres && PostgresTestEnvironment.SkipReason is { } reason)
        {
            return [new XunitSkippedDataRowTestCase(diagnosticMessageSink, display, displayOptions, testMethod, reason)];
        }

        return [new XunitTestCase(diagnosticMessageSink, display, displayOptions, testMethod)];
    }
}
