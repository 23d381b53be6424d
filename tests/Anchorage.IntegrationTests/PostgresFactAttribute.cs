namespace Anchorage.IntegrationTests;

/// <summary>A fact that needs PostgreSQL (ANCHORAGE_TEST_POSTGRES): skipped locally without it, failing on CI without it.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public const string Variable = "ANCHORAGE_TEST_POSTGRES";

    public PostgresFactAttribute()
    {
        if (ConnectionString is null && !OnCi)
        {
            Skip = $"{Variable} is not set; run `eval \"$(sudo scripts/postgres-test-setup)\"` to run the high-availability tests";
        }
    }

    public static string? ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;

    private static bool OnCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The connection string, or a failure that says how to provide one.</summary>
    public static string Require() => ConnectionString ?? throw new InvalidOperationException(
        $"{Variable} is not set but CI is true: CI must run the PostgreSQL tests; call scripts/postgres-test-setup and export the line it prints");
}
