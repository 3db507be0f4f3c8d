using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Heaven.Bench.Deploy;

/// <summary>
/// The cluster benchmark's own PostgreSQL server: initdb and pg_ctl from the newest
/// /usr/lib/postgresql/*/bin, run as the <c>postgres</c> user when the benchmark runs as root (initdb
/// refuses root), on 127.0.0.1 and a free port, without durability (fsync off), with
/// pg_stat_statements loaded so every statement the nodes send is counted. Removed on dispose.
/// A server of its own: the counts and the CPU time of its processes are the benchmark's alone.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private readonly string root;
    private readonly string bin;
    private readonly bool asPostgresUser;

    private PostgresServer(string root, string bin, bool asPostgresUser, int port)
    {
        this.root = root;
        this.bin = bin;
        this.asPostgresUser = asPostgresUser;
        Port = port;
    }

    public int Port { get; }

    public string Version { get; private set; } = "";

    private string DataPath => Path.Combine(root, "data");

    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, Pooling = false }.ConnectionString;

    /// <summary>The connection string the nodes use (pooled, as in production).</summary>
    public string NodeConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database }.ConnectionString;

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("PostgreSQL's initdb was not found under /usr/lib/postgresql/*/bin (install Debian's postgresql package).");
        }

        var root = Directory.CreateTempSubdirectory("heaven-bench-pg-").FullName;
        var asPostgresUser = Environment.UserName == "root";
        if (asPostgresUser)
        {
            await RunAsync("chown", ["postgres:", root]);
        }

        var server = new PostgresServer(root, bin, asPostgresUser, FreePort());
        try
        {
            await server.PgAsync("initdb", ["-D", server.DataPath, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]);
            var options = string.Join(' ',
                "-c listen_addresses=127.0.0.1", $"-p {server.Port}", $"-k {root}", "-c max_connections=200",
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.max=10000");
            await server.PgAsync("pg_ctl", ["-D", server.DataPath, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "-o", options, "start"]);
            await server.ExecuteAsync("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
            server.Version = (await server.ScalarAsync("postgres", "SHOW server_version"))?.ToString() ?? "";
            return server;
        }
        catch
        {
            await server.DisposeAsync();
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
        var postmaster = int.Parse(File.ReadLines(Path.Combine(DataPath, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
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

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataPath, "postmaster.pid")))
            {
                await PgAsync("pg_ctl", ["-D", DataPath, "-m", "immediate", "-w", "-t", "30", "stop"]);
            }
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"  PostgreSQL did not stop: {e.Message}");
        }

        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Task PgAsync(string program, string[] args) =>
        asPostgresUser
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(bin, program), .. args])
            : RunAsync(Path.Combine(bin, program), args);

    private static async Task RunAsync(string program, string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args.Take(2))} exited with {process.ExitCode}: {await error}{await output}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
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
