using Npgsql;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A fresh, uniquely named database on the PostgreSQL server named by <c>HEAVEN_TEST_POSTGRES</c>
/// (./test.sh starts a throwaway server on 127.0.0.1 and sets it), dropped again on dispose.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    public const string ServerVariable = "HEAVEN_TEST_POSTGRES";

    /// <summary>Why a PostgreSQL test is skipped without a server, and how to run it.</summary>
    public const string SkipReason =
        $"{ServerVariable} is not set: this test needs a PostgreSQL server. Run ./test.sh (it starts a throwaway PostgreSQL " +
        $"on 127.0.0.1 and sets {ServerVariable}), or set {ServerVariable} to an Npgsql connection string whose user may create databases, " +
        "e.g. Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres.";

    /// <summary>Whether a server is named (<see cref="ServerVariable"/> is set).</summary>
    public static bool Configured => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ServerVariable));

    private readonly string serverConnectionString;

    private PostgresDatabase(string serverConnectionString, string name, string connectionString)
    {
        this.serverConnectionString = serverConnectionString;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    /// <summary>An Npgsql connection string to this database, as <c>Database:ConnectionString</c> takes it.</summary>
    public string ConnectionString { get; }

    /// <summary>The same database as a <c>postgres://user:password@host:port/database</c> URL (the original's <c>DATABASE_URL</c>).</summary>
    public string Url
    {
        get
        {
            var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
            var user = Uri.EscapeDataString(builder.Username ?? "postgres");
            var password = string.IsNullOrEmpty(builder.Password) ? "" : ":" + Uri.EscapeDataString(builder.Password);
            var host = builder.Host!.Contains(':', StringComparison.Ordinal) ? $"[{builder.Host}]" : builder.Host;
            return $"postgres://{user}{password}@{host}:{builder.Port}/{Uri.EscapeDataString(Name)}";
        }
    }

    public static async Task<PostgresDatabase> CreateAsync()
    {
        var server = Environment.GetEnvironmentVariable(ServerVariable);
        if (string.IsNullOrWhiteSpace(server))
        {
            // A [PostgresFact] is skipped before it gets here; a plain [Fact] that needs PostgreSQL says why it cannot run.
            throw new InvalidOperationException(SkipReason);
        }

        var name = "heaven_test_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(server) { Database = name };
        return new PostgresDatabase(server, name, builder.ConnectionString);
    }

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Runs a query and reads every row's first column.</summary>
    public async Task<List<T>> ColumnAsync<T>(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<T>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    public async Task<T> ScalarAsync<T>(string sql) => (await ColumnAsync<T>(sql)).Single();

    public async ValueTask DisposeAsync()
    {
        // Heaven's pools may still hold idle connections to the database: close them, then drop it.
        using (var pooled = new NpgsqlConnection(ConnectionString))
        {
            NpgsqlConnection.ClearPool(pooled);
        }

        await using var connection = new NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
