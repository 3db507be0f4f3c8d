using System.Globalization;
using Heaven.Tests.Infrastructure;
using Npgsql;

namespace Heaven.Bench.Deploy;

/// <summary>
/// The cluster benchmark's own PostgreSQL server (the test suite's <see cref="PostgresServer"/>: initdb
/// and pg_ctl from the newest /usr/lib/postgresql/*/bin, as the <c>postgres</c> user when run as root,
/// 127.0.0.1, a free port, fsync off; removed on dispose), with pg_stat_statements loaded so every
/// statement the nodes send is counted. A server of its own: the counts and the CPU time of its
/// processes are the benchmark's alone.
/// </summary>
internal sealed class CountingPostgres(PostgresServer server) : IAsyncDisposable
{
    public int Port => server.Port;

    public string Version { get; private set; } = "";

    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, Pooling = false }.ConnectionString;

    /// <summary>The connection string the nodes use (pooled, as in production).</summary>
    public string NodeConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database }.ConnectionString;

    public static async Task<CountingPostgres> StartAsync()
    {
        if (PostgresServer.SkipReason is { } missing)
        {
            throw new InvalidOperationException($"The cluster benchmark {missing}.");
        }

        var counting = new CountingPostgres(await PostgresServer.StartAsync(
            "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all", "pg_stat_statements.max=10000"));
        try
        {
            await counting.ExecuteAsync("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
            counting.Version = (await counting.ScalarAsync("postgres", "SHOW server_version"))?.ToString() ?? "";
            return counting;
        }
        catch
        {
            await counting.DisposeAsync();
            throw;
        }
    }

    public async Task CreateDatabaseAsync(string name) => await ExecuteAsync("postgres", $"CREATE DATABASE \"{name}\"");

    public async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<object?> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>Forgets every statement counted so far.</summary>
    public Task ResetStatementsAsync() => ExecuteAsync("postgres", "SELECT pg_stat_statements_reset()");

    /// <summary>Every statement counted since the last reset in one database: its normalized text and how many times it ran.</summary>
    public async Task<List<(string Query, long Calls)>> StatementsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT query, calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)", connection);
        command.Parameters.AddWithValue(database);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        return rows;
    }

    /// <summary>Committed transactions in one database so far.</summary>
    public async Task<long> CommitsAsync(string database) =>
        Convert.ToInt64(await ScalarAsync("postgres", $"SELECT xact_commit FROM pg_stat_database WHERE datname = '{database}'"), CultureInfo.InvariantCulture);

    /// <summary>
    /// CPU time of the whole server so far: the postmaster with the backends it has reaped, plus the
    /// backends alive now (the nodes' pooled connections).
    /// </summary>
    public TimeSpan CpuTime()
    {
        var postmaster = server.PostmasterProcessId;
        var ticks = ProcessCpu.Ticks(postmaster, children: true);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && pid != postmaster && ProcessCpu.ParentOf(pid) == postmaster)
            {
                ticks += ProcessCpu.Ticks(pid, children: true);
            }
        }

        return ProcessCpu.FromTicks(ticks);
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}

/// <summary>CPU time of processes from /proc/pid/stat, in clock ticks (100 a second).</summary>
internal static class ProcessCpu
{
    /// <summary>utime + stime, and with <paramref name="children"/> also cutime + cstime (the children it has waited for); 0 when the process is gone.</summary>
    public static long Ticks(int pid, bool children)
    {
        var fields = Fields(pid);
        if (fields is null)
        {
            return 0;
        }

        // utime, stime, cutime, cstime: the 14th to 17th fields, 11 to 14 after the command name.
        return Enumerable.Range(11, children ? 4 : 2).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
    }

    /// <summary>cutime + cstime: the processes it started and waited for (for heaven: git, bash and the scripts).</summary>
    public static long ChildTicks(int pid) =>
        Fields(pid) is { } fields ? long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture) : 0;

    public static int ParentOf(int pid) => Fields(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : -1;

    public static TimeSpan FromTicks(long ticks) => TimeSpan.FromSeconds(ticks / 100.0);

    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may hold spaces: the fields after it start at the last ')'.
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
