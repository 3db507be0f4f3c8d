using System.Text;
using Heaven.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Heaven.Storage;

/// <summary>
/// Heaven's database. One model, two engines: each engine has its own context type so each keeps its
/// own migrations (SQLite and PostgreSQL differ in types and DDL).
/// </summary>
public abstract class HeavenDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<DeploymentRecord> Deployments => Set<DeploymentRecord>();

    public DbSet<ServerKey> ServerKeys => Set<ServerKey>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Each component describes its own tables (an IEntityTypeConfiguration beside its entity), so
        // Storage does not know the components; the shared deployment record is described here.
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(HeavenDbContext).Assembly);

        modelBuilder.Entity<DeploymentRecord>(deployment =>
        {
            deployment.ToTable("deployments");
            deployment.Property(d => d.Repository).HasMaxLength(256);
            // GitHub ids are unique per GitHub host; the repository makes the key safe for a Heaven
            // that serves github.com and an Enterprise server at once.
            deployment.HasIndex(d => new { d.Repository, d.GitHubDeploymentId }).IsUnique();
            deployment.Property(d => d.Ref).HasMaxLength(1024);
            deployment.Property(d => d.Sha).HasMaxLength(64);
            deployment.Property(d => d.Task).HasMaxLength(256);
            deployment.Property(d => d.Environment).HasMaxLength(256);
            deployment.Property(d => d.CreatorLogin).HasMaxLength(256);
            deployment.Property(d => d.DeliveryId).HasMaxLength(128);
            deployment.Property(d => d.State).HasConversion<string>().HasMaxLength(16);
            deployment.HasIndex(d => new { d.State, d.Id });
            // The claim's turn order reads each queued repository's latest start: one index lookup each.
            deployment.HasIndex(d => new { d.Repository, d.StartedAt });
            // The dashboard: one grouped scan of this index gives each environment's latest deployment
            // per state and provider (the deployed one, the running one, how many wait) without the rows.
            deployment.HasIndex(d => new { d.Repository, d.Environment, d.State, d.Provider, d.Id });
            // An environment's history, newest first, a page at a time.
            deployment.HasIndex(d => new { d.Repository, d.Environment, d.Id });
            // Finding Heaven's deployment for a GitHub deployment id without its repository.
            deployment.HasIndex(d => d.GitHubDeploymentId);
            deployment.Property(d => d.App).HasMaxLength(256);
            // The exclusivity key (not an environment lock); its column keeps its first name.
            deployment.Property(d => d.ExclusivityKey).HasMaxLength(1024).HasColumnName("lock_key");
            // The database, not the code, guarantees one running deploy per (repository, app,
            // environment), also with several nodes claiming at the same moment.
            deployment.HasIndex(d => d.ExclusivityKey).IsUnique().HasFilter("state = 'Running'").HasDatabaseName("ix_deployments_running_lock_key");
            deployment.Property(d => d.LeaseOwner).HasMaxLength(128);
            // The fencing token: an update from a worker whose claim is stale matches no row.
            deployment.Property(d => d.LeaseGeneration).IsConcurrencyToken();
            deployment.Property(d => d.CancelRequestedBy).HasMaxLength(256);
            deployment.Property(d => d.Provider).HasMaxLength(64);
            deployment.Property(d => d.StatusDescription).HasMaxLength(512);
            deployment.Property(d => d.GistId).HasMaxLength(128);
            deployment.Property(d => d.GistUrl).HasMaxLength(512);
            deployment.Property(d => d.TraceParent).HasMaxLength(64);
        });

        modelBuilder.Entity<ServerKey>(key =>
        {
            key.ToTable("server_keys");
            key.HasKey(k => k.Name);
            key.Property(k => k.Name).HasMaxLength(64);
            key.Property(k => k.Value).HasMaxLength(512);
        });

        ApplySnakeCaseColumnNames(modelBuilder);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Times are always UTC; SQLite forgets the kind on the way back, so restore it.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
    }

    /// <summary>Plain lower-case names read the same in psql, sqlite3 and hand-written SQL.</summary>
    private static void ApplySnakeCaseColumnNames(ModelBuilder modelBuilder)
    {
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            // A column named explicitly (HasColumnName) keeps its name.
            foreach (var property in entity.GetProperties().Where(p => p.FindAnnotation(RelationalAnnotationNames.ColumnName) is null))
            {
                property.SetColumnName(ToSnakeCase(property.Name));
            }

            foreach (var index in entity.GetIndexes().Where(i => i.GetDatabaseName() is not ("ix_deployments_running_lock_key" or "ix_auto_deploy_decisions_claim")))
            {
                index.SetDatabaseName($"ix_{entity.GetTableName()}_{string.Join('_', index.Properties.Select(p => ToSnakeCase(p.Name)))}");
            }

            foreach (var key in entity.GetKeys())
            {
                key.SetName($"pk_{entity.GetTableName()}");
            }
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previousIsLower = i > 0 && !char.IsUpper(name[i - 1]);
                var nextIsLower = i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (i > 0 && (previousIsLower || (nextIsLower && char.IsUpper(name[i - 1]))))
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}

public sealed class SqliteHeavenDbContext(DbContextOptions<SqliteHeavenDbContext> options) : HeavenDbContext(options);

public sealed class PostgresHeavenDbContext(DbContextOptions<PostgresHeavenDbContext> options) : HeavenDbContext(options);
