using Anchorage.Testing.Postgres;
namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// On a test class: its <see cref="ContractFactAttribute"/> tests (inherited from the contract suite)
/// are skipped like <see cref="PostgresFactAttribute"/> tests when no PostgreSQL server is configured.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresPostgresAttribute : Attribute
{
}
