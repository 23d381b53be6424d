using Xunit;

namespace Anchorage.Testing.Postgres;

/// <summary>A theory that needs a PostgreSQL server: skipped locally without one, failing on CI without one.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresTheoryAttribute : TheoryAttribute
{
    public PostgresTheoryAttribute()
    {
        if (PostgresTestEnvironment.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
