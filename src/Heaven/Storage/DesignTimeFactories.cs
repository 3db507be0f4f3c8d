using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Heaven.Storage;

// Used only by `dotnet ef migrations add`; no database is contacted to generate a migration.

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteHeavenDbContext>
{
    public SqliteHeavenDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteHeavenDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresHeavenDbContext>
{
    public PostgresHeavenDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresHeavenDbContext>().UseNpgsql("Host=localhost;Database=heaven_design").Options);
}
