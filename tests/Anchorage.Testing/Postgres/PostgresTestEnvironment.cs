namespace Anchorage.Testing.Postgres;

/// <summary>
/// Where the PostgreSQL tests get their server: the connection string in ANCHORAGE_TEST_POSTGRES
/// (scripts/postgres-test-setup prints it). Absent locally: the tests are skipped with a reason.
/// Absent on CI (CI=true): the tests run and fail, so CI cannot skip them silently.
/// </summary>
public static class PostgresTestEnvironment
{
    public const string Variable = "ANCHORAGE_TEST_POSTGRES";

    public static string? ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;

    public static bool OnCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when the tests must run (a server is configured, or this is CI).</summary>
    public static string? SkipReason =>
        ConnectionString is null && !OnCi
            ? $"{Variable} is not set; run `eval \"$(sudo scripts/postgres-test-setup)\"` to run the PostgreSQL tests"
            : null;

    /// <summary>The connection string, or a failure that says how to provide one.</summary>
    public static string Require() =>
        ConnectionString ?? throw new InvalidOperationException(
            $"{Variable} is not set but CI is true: CI must run the PostgreSQL tests; " +
            $"call scripts/postgres-test-setup and export the line it prints");
}
