using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL server of the test's own, which the test may stop and start again (the shared one of
/// <c>PostgresDatabase</c> must never be restarted): Debian's initdb and pg_ctl, run as the
/// <c>postgres</c> user when the test runs as root (initdb refuses root), listening on 127.0.0.1 only
/// on a free port, trust authentication and no durability. Removed on dispose.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string bin;
    private readonly string folder;
    private readonly string[] settings;
    private bool running;

    private PostgresServer(string bin, string folder, int port, string[] settings)
    {
        this.bin = bin;
        this.folder = folder;
        this.settings = settings;
        Port = port;
    }

    public int Port { get; private set; }

    /// <summary>An Npgsql connection string to the server's <c>postgres</c> database, as <c>Database:ConnectionString</c> takes it.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = "postgres",
    }.ConnectionString;

    /// <summary>Why a test of this kind is skipped here (no PostgreSQL binaries, or root without a postgres user), or null.</summary>
    public static string? SkipReason =>
        FindBin() is null ? "needs PostgreSQL's initdb and pg_ctl (Debian's postgresql package, under /usr/lib/postgresql/*/bin): this test starts and restarts a server of its own"
        : Heaven.Execution.Posix.EffectiveUserId == 0 && !UserExists("postgres") ? "runs as root but there is no postgres user to run PostgreSQL as"
        : null;

    /// <summary>
    /// Creates a cluster in a new temporary folder and starts it, with <paramref name="serverSettings"/>
    /// (<c>name=value</c>, e.g. <c>shared_preload_libraries=pg_stat_statements</c>) besides its own.
    /// </summary>
    public static async Task<PostgresServer> StartAsync(params string[] serverSettings)
    {
        var bin = FindBin() ?? throw new InvalidOperationException(SkipReason);
        var folder = Path.Combine(Path.GetTempPath(), "heaven-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var server = new PostgresServer(bin, folder, 0, serverSettings);
        try
        {
            if (AsPostgresUser)
            {
                await RunAsync("chown", ["postgres:", folder]);
            }

            await server.PgAsync("initdb", "-D", server.DataFolder, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync");
            await server.StartOnAFreePortAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private string DataFolder => Path.Combine(folder, "data");

    private static bool AsPostgresUser => Heaven.Execution.Posix.EffectiveUserId == 0;

    /// <summary>Stops the server (<c>pg_ctl stop -m fast</c>: open connections are cut) and waits until it is down.</summary>
    public async Task StopAsync()
    {
        await PgAsync("pg_ctl", "-D", DataFolder, "-m", "fast", "-w", "-t", "60", "stop");
        running = false;
    }

    /// <summary>Starts the stopped server again on the same port, and waits until it takes connections.</summary>
    public async Task StartAgainAsync()
    {
        await StartAsync(Port);
        running = true;
    }

    /// <summary>The postmaster's process id (its backends are its children).</summary>
    public int PostmasterProcessId => int.Parse(File.ReadLines(Path.Combine(DataFolder, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The server's log, for a failure message.</summary>
    public string Log => File.Exists(Path.Combine(folder, "server.log")) ? File.ReadAllText(Path.Combine(folder, "server.log")) : "";

    public async ValueTask DisposeAsync()
    {
        if (running)
        {
            try
            {
                await PgAsync("pg_ctl", "-D", DataFolder, "-m", "immediate", "-w", "-t", "60", "stop");
            }
            catch (InvalidOperationException)
            {
                // Already down: the folder goes all the same.
            }
        }

        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartOnAFreePortAsync()
    {
        InvalidOperationException? last = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                await StartAsync(FreePort());
                running = true;
                return;
            }
            catch (InvalidOperationException e)
            {
                // Another process took the port between the look and the start.
                last = e;
            }
        }

        throw last!;
    }

    private Task StartAsync(int port)
    {
        Port = port;
        // Loopback only, its socket in its own folder, no durability: a server for one test.
        var options = $"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            + string.Concat(settings.Select(setting => $" -c {setting}"));
        return PgAsync("pg_ctl", "-D", DataFolder, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "-o", options, "start");
    }

    private Task PgAsync(string program, params string[] args)
    {
        var path = Path.Combine(bin, program);
        return AsPostgresUser ? RunAsync("runuser", ["-u", "postgres", "--", path, .. args]) : RunAsync(path, args);
    }

    private static async Task RunAsync(string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            // A folder the postgres user may enter.
            WorkingDirectory = "/",
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }

    private static string? FindBin() =>
        (Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [])
            .Select(version => Path.Combine(version, "bin"))
            .Where(dir => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            .OrderByDescending(dir => Version.TryParse(Path.GetFileName(Path.GetDirectoryName(dir)), out var v) ? v : new Version(0, 0))
            .FirstOrDefault();

    private static bool UserExists(string name) =>
        File.Exists("/etc/passwd") && File.ReadLines("/etc/passwd").Any(line => line.StartsWith(name + ":", StringComparison.Ordinal));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
