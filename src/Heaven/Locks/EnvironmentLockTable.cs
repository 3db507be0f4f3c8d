using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Locks;

/// <summary>How environment locks are stored (<c>environment_locks</c>).</summary>
internal sealed class EnvironmentLockTable : IEntityTypeConfiguration<EnvironmentLock>
{
    public void Configure(EntityTypeBuilder<EnvironmentLock> environmentLock)
    {
        environmentLock.ToTable("environment_locks");
        environmentLock.Property(l => l.Repository).HasMaxLength(256);
        environmentLock.Property(l => l.Environment).HasMaxLength(256);
        environmentLock.Property(l => l.LockKey).HasMaxLength(1024);
        // One lock per (repository, environment), also when two nodes lock at the same moment.
        environmentLock.HasIndex(l => l.LockKey).IsUnique();
        environmentLock.Property(l => l.App).HasMaxLength(256);
        environmentLock.Property(l => l.LockedBy).HasMaxLength(256);
        environmentLock.Property(l => l.Reason).HasMaxLength(512);
    }
}

/// <summary><c>db.EnvironmentLocks</c>: the environment locks.</summary>
internal static class EnvironmentLockSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<EnvironmentLock> EnvironmentLocks => db.Set<EnvironmentLock>();
    }
}
