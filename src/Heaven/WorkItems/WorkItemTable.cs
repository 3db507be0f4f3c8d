using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.WorkItems;

/// <summary>How the outbox is stored (<c>work_items</c>).</summary>
internal sealed class WorkItemTable : IEntityTypeConfiguration<WorkItem>
{
    public void Configure(EntityTypeBuilder<WorkItem> item)
    {
        item.ToTable("work_items");
        item.Property(w => w.Kind).HasMaxLength(64);
        item.Property(w => w.Repository).HasMaxLength(256);
        item.Property(w => w.DeliveryId).HasMaxLength(128);
        item.Property(w => w.LeaseOwner).HasMaxLength(256);
        item.Property(w => w.TraceParent).HasMaxLength(64);
        item.Property(w => w.State).HasConversion<string>().HasMaxLength(16);
        item.HasIndex(w => new { w.State, w.Kind, w.NotBefore });
        item.HasIndex(w => new { w.DeploymentId, w.Id });
    }
}

/// <summary><c>db.WorkItems</c>: the outbox.</summary>
internal static class WorkItemSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<WorkItem> WorkItems => db.Set<WorkItem>();
    }
}
