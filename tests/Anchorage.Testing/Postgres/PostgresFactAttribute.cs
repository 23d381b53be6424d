using Xunit;

namespace Anchorage.Testing.Postgres;

/// <summary>A fact that needs a PostgreSQL server: skipped locally without one, failing on CI without one.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresTestEnvironment.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
