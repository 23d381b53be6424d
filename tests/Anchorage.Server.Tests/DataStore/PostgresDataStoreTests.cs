using Anchorage.Server.DataStore;
using Anchorage.Testing.Postgres;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>The contract suite on PostgreSQL (ANCHORAGE_TEST_POSTGRES), each test in a schema of its own.</summary>
[RequiresPostgres]
public sealed class PostgresDataStoreTests : DataStoreContractTests<PostgresTestBackend>
{
}

/// <summary>PostgreSQL failures that need no server.</summary>
public sealed class PostgresDataStoreOpenTests
{
    [Fact]
    public async Task Open_NothingListening_UnavailableWithoutThePassword()
    {
        const string password = "pw-that-must-not-leak";
        var options = DataStoreOptions.ForPostgres($"Host=127.0.0.1;Port=1;Username=u;Password={password};Database=anchorage;Timeout=5");

        var ex = await Assert.ThrowsAsync<DataStoreUnavailableException>(
            () => DataStoreFactory.OpenAsync(options, new FakeTimeProvider(), null, CancellationToken.None));

        Assert.StartsWith("cannot open postgres database 127.0.0.1:1/anchorage: Failed to connect to 127.0.0.1:1", ex.Message);
        Assert.DoesNotContain(password, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(password, options.ToString(), StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task Open_WrongPassword_UnavailableWithoutThePassword()
    {
        const string password = "wrong-pw-that-must-not-leak";
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(PostgresTestEnvironment.Require()) { Password = password, Username = "anchorage_nobody" };

        var ex = await Assert.ThrowsAsync<DataStoreUnavailableException>(
            () => DataStoreFactory.OpenAsync(DataStoreOptions.ForPostgres(builder.ToString()), new FakeTimeProvider(), null, CancellationToken.None));

        Assert.Contains("28P01: password authentication failed for user \"anchorage_nobody\"", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(password, ex.Message, StringComparison.Ordinal);
    }
}
