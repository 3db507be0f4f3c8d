using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Storage;
using Heaven.Tests.Hosting;
using Heaven.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Storage;

/// <summary>
/// Upgrades with several nodes: nodes starting at once on a fresh PostgreSQL database all come up (one
/// migrates, the others wait), and a node never runs against a database a newer Heaven migrated: it
/// refuses to start, names the migration it does not know, and changes nothing (SQLite and PostgreSQL).
/// </summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class SchemaUpgradeTests
{
    private const string FutureMigration = "29991231000000_FromANewerHeaven";
    private const string Refusal = $"The database was migrated by a newer Heaven: it has migration {FutureMigration}, which this Heaven";
    private const string Advice = "Upgrade this node to the version the other nodes run; nothing was changed in the database.";

    [Fact]
    public async Task On_sqlite_a_database_migrated_by_a_newer_heaven_stops_the_start_with_one_line_and_is_left_as_it_was()
    {
        using var directory = new TemporaryDirectory();
        var data = Path.Combine(directory.Path, "data");
        await using (await HeavenTestHost.StartAsync(directory: directory))
        {
        }

        var file = Path.Combine(data, DatabaseOptions.SqliteFileName);
        await ExecuteSqliteAsync(file, $"INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") VALUES ('{FutureMigration}', '99.0.0')");
        var before = await SqliteRowsAsync(file);

        var (exitCode, output, error) = await HeavenProcess.RunAsync(
            new Dictionary<string, string> { ["HEAVEN_DATA_DIR"] = data, ["GITHUB_WEBHOOK_SECRET"] = "schema-test-secret-0123456789" },
            "serve", "--urls", "http://127.0.0.1:0");

        StartupFailure.ShouldBeOneLine(exitCode, output, error, Refusal);
        error.ShouldContain(Advice);
        (await SqliteRowsAsync(file)).ShouldBe(before, "the refused node recorded nothing: not its start, not a migration");

        // heaven doctor says the same, where it would otherwise call the database up to date.
        var doctor = await Heaven.Tests.Cli.HeavenCliTests.RunAsync("doctor", "--DataDirectory", data, "--GitHub:ApiUrl=http://127.0.0.1:9");
        doctor.Output.Split('\n').ShouldContain(l => l.StartsWith("FAIL  database: " + Refusal, StringComparison.Ordinal) && l.EndsWith(Advice, StringComparison.Ordinal), doctor.Output);
    }

    [PostgresFact]
    public async Task Three_nodes_starting_at_once_on_a_fresh_postgres_database_all_come_up_on_a_schema_migrated_once()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        var starting = Enumerable.Range(0, 3).Select(_ => HeavenTestHost.StartAsync(Settings(database))).ToList();
        try
        {
            await Task.WhenAll(starting);
            var nodes = starting.Select(s => s.Result).ToList();

            var applied = await database.ColumnAsync<string>("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\"");
            var known = await nodes[0].QueryAsync(db => Task.FromResult(db.Database.GetMigrations().ToList()));
            applied.ShouldBe(known);

            var listed = await nodes[2].Services.GetRequiredService<NodeMembership>().ListAsync(CancellationToken.None);
            listed.Select(n => n.Id).Order().ShouldBe(nodes.Select(n => n.Services.GetRequiredService<NodeIdentity>().Id).Order());
            listed.ShouldAllBe(n => n.State == NodeState.Running);
        }
        finally
        {
            foreach (var node in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await node.Result.DisposeAsync();
            }
        }
    }

    [PostgresFact]
    public async Task On_postgres_a_node_refuses_a_database_migrated_by_a_newer_heaven_and_changes_nothing()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        await using var running = await HeavenTestHost.StartAsync(Settings(database));
        await using (var connection = await database.OpenAsync())
        {
            await using var insert = new Npgsql.NpgsqlCommand($"INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") VALUES ('{FutureMigration}', '99.0.0')", connection);
            await insert.ExecuteNonQueryAsync();
        }

        var history = await database.ColumnAsync<string>("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\"");
        using var directory = new TemporaryDirectory();

        var refused = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(Settings(database), directory: directory));

        refused.Message.ShouldStartWith(Refusal);
        refused.Message.ShouldContain(Advice);
        refused.Message.ShouldNotContain("\n");
        (await database.ColumnAsync<string>("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\"")).ShouldBe(history);
        (await database.ColumnAsync<string>("SELECT id FROM nodes")).ShouldBe([running.Services.GetRequiredService<NodeIdentity>().Id], "the refused node did not record itself");
    }

    private static Dictionary<string, string?> Settings(PostgresDatabase database) => new()
    {
        ["Database:Provider"] = "Postgres",
        ["Database:ConnectionString"] = database.ConnectionString,
    };

    private static async Task ExecuteSqliteAsync(string file, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The migrations applied and the nodes recorded (with their run and heartbeat), one string each.</summary>
    private static async Task<List<string>> SqliteRowsAsync(string file)
    {
        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False;Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" UNION ALL SELECT id || ' ' || run_id || ' ' || heartbeat_at || ' ' || coalesce(stopped_at, '-') FROM nodes";
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
