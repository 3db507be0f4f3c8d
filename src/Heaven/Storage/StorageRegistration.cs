using System.Data.Common;
using Heaven.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Storage;

/// <summary>Creates contexts for whichever engine is configured; components depend on this, not on an engine.</summary>
public interface IHeavenDatabase
{
    DatabaseProvider Provider { get; }

    Task<HeavenDbContext> OpenAsync(CancellationToken cancellationToken);
}

internal sealed class HeavenDatabase<TContext>(IDbContextFactory<TContext> factory, DatabaseProvider provider) : IHeavenDatabase
    where TContext : HeavenDbContext
{
    public DatabaseProvider Provider => provider;

    public async Task<HeavenDbContext> OpenAsync(CancellationToken cancellationToken) =>
        await factory.CreateDbContextAsync(cancellationToken);
}

internal static class StorageRegistration
{
    /// <summary>SQLite's <c>PRAGMA auto_vacuum</c> value for INCREMENTAL.</summary>
    public const long SqliteIncrementalVacuum = 2;

    public static IServiceCollection AddHeavenStorage(this IServiceCollection services, IConfiguration configuration, DataDirectory dataDirectory)
    {
        services.AddValidatedOptions<DatabaseOptions>(DatabaseOptions.Section);

        // The engine decides the service graph, so it is read here rather than through IOptions;
        // validation of the same values still runs at start and reports every problem.
        DatabaseOptions options;
        try
        {
            options = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        }
        catch (InvalidOperationException)
        {
            // A value that does not convert (Database:Provider=mysql): the start-up check names it.
            return services.AddLocalClusterSignals();
        }

        if (options.Validate().Any())
        {
            return services.AddLocalClusterSignals();
        }

        var (provider, connectionString) = options.Resolve(dataDirectory);
        if (provider == DatabaseProvider.Sqlite)
        {
            services.AddPooledDbContextFactory<SqliteHeavenDbContext>(builder => builder
                .UseSqlite(connectionString)
                .AddInterceptors(new SqlitePragmas()));
            services.AddSingleton<IHeavenDatabase>(sp => new HeavenDatabase<SqliteHeavenDbContext>(
                sp.GetRequiredService<IDbContextFactory<SqliteHeavenDbContext>>(), provider));
            // Registered before the components that write, so it stops after them.
            services.AddHostedService(_ => new SqliteFileRelease(connectionString));
        }
        else
        {
            services.AddPooledDbContextFactory<PostgresHeavenDbContext>(builder => builder.UseNpgsql(connectionString));
            services.AddSingleton<IHeavenDatabase>(sp => new HeavenDatabase<PostgresHeavenDbContext>(
                sp.GetRequiredService<IDbContextFactory<PostgresHeavenDbContext>>(), provider));
            // Several nodes may share this database: wake-ups travel between them through LISTEN/NOTIFY.
            services.AddSingleton(sp => new ClusterSignals(connectionString, sp.GetRequiredService<ILogger<ClusterSignals>>()));
            services.AddHostedService(sp => new ClusterListener(
                connectionString,
                sp.GetRequiredService<ClusterSignals>(),
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetRequiredService<ILogger<ClusterListener>>()));
        }

        return services.AddLocalClusterSignals();
    }

    /// <summary>Wake-ups within this process only: one node (SQLite), unless PostgreSQL registered its own.</summary>
    private static IServiceCollection AddLocalClusterSignals(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => new ClusterSignals(sp.GetRequiredService<ILogger<ClusterSignals>>()));
        return services;
    }

    /// <summary>
    /// Brings the schema up to date; several nodes may do this at once (on PostgreSQL one migrates while
    /// the others wait on an advisory lock). Refuses (<see cref="NewerSchemaException"/>) a database a newer
    /// Heaven migrated, before changing anything.
    /// </summary>
    public static async Task MigrateAsync(IHeavenDatabase database, CancellationToken cancellationToken)
    {
        await using var context = await database.OpenAsync(cancellationToken);
        if (database.Provider == DatabaseProvider.Sqlite)
        {
            // Before anything is set on the file: a refusal leaves it as it was.
            await RefuseNewerSchemaAsync(context, cancellationToken);

            // WAL lets readers (health checks, the log page) run beside the single writer; it is a
            // property of the file, so setting it once is enough.
            await context.Database.OpenConnectionAsync(cancellationToken);
            // Incremental vacuum lets the clean-up give deleted logs' pages back to the file system. It
            // can only be chosen before the first table is made: a new file gets it here, an older one
            // is converted once by the clean-up's first compaction (a full VACUUM).
            if (await context.Database.SqlQueryRaw<long>("SELECT count(*) AS Value FROM sqlite_master").SingleAsync(cancellationToken) == 0)
            {
                await context.Database.ExecuteSqlRawAsync("PRAGMA auto_vacuum=INCREMENTAL;", cancellationToken);
            }

            await context.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }

        if (database.Provider == DatabaseProvider.Postgres)
        {
            // Nodes starting together must not apply the same migration twice: hold a session lock
            // on the connection the migrations run on, for all of them.
            await context.Database.OpenConnectionAsync(cancellationToken);
            await context.Database.ExecuteSqlRawAsync("SELECT pg_advisory_lock(7283920461)", cancellationToken);
            try
            {
                await RefuseNewerSchemaAsync(context, cancellationToken);
                await context.Database.MigrateAsync(cancellationToken);
            }
            finally
            {
                await context.Database.ExecuteSqlRawAsync("SELECT pg_advisory_unlock(7283920461)", CancellationToken.None);
            }

            return;
        }

        await context.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>
    /// A database that a newer Heaven has migrated holds tables and columns this build does not know
    /// how to keep right (a rolling upgrade that reached this node last): this node refuses to start
    /// rather than run beside them, and changes nothing.
    /// </summary>
    private static async Task RefuseNewerSchemaAsync(HeavenDbContext context, CancellationToken cancellationToken)
    {
        if (await UnknownMigrationsAsync(context, cancellationToken) is { Count: > 0 } unknown)
        {
            throw new NewerSchemaException(unknown);
        }
    }

    /// <summary>The migrations applied to the database that this build does not have: a newer Heaven's.</summary>
    public static async Task<List<string>> UnknownMigrationsAsync(HeavenDbContext context, CancellationToken cancellationToken)
    {
        var known = context.Database.GetMigrations().ToHashSet(StringComparer.Ordinal);
        var applied = await context.Database.GetAppliedMigrationsAsync(cancellationToken);
        return [.. applied.Where(m => !known.Contains(m))];
    }
}

/// <summary>The database was migrated by a newer Heaven: its schema has migrations this build does not know.</summary>
public sealed class NewerSchemaException(IReadOnlyList<string> unknownMigrations) : Exception(
    $"The database was migrated by a newer Heaven: it has {(unknownMigrations.Count == 1 ? "migration" : "migrations")} {string.Join(", ", unknownMigrations)}, which this Heaven ({HeavenVersion.Current}) does not know. " +
    "Upgrade this node to the version the other nodes run; nothing was changed in the database.")
{
    public IReadOnlyList<string> UnknownMigrations { get; } = unknownMigrations;
}

/// <summary>Per-connection SQLite settings.</summary>
/// <remarks>
/// synchronous=FULL makes every acknowledged commit survive a crash of the process and of the machine;
/// the intake groups concurrent deliveries into one transaction, so the sync is paid once per group.
/// busy_timeout lets a writer wait for another instead of failing at once.
/// </remarks>
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>
/// Closes the pooled SQLite connections when Heaven stops, so the database file is released (a
/// restart, a backup or a test that removes the data directory never meets a stale handle).
/// </summary>
internal sealed class SqliteFileRelease(string connectionString) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(connectionString);
        Microsoft.Data.Sqlite.SqliteConnection.ClearPool(connection);
        return Task.CompletedTask;
    }
}
