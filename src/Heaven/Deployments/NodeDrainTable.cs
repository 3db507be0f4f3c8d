using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Deployments;

/// <summary>How drain requests are stored (<c>node_drains</c>): one row per drained node, <c>*</c> for all.</summary>
internal sealed class NodeDrainTable : IEntityTypeConfiguration<NodeDrain>
{
    public void Configure(EntityTypeBuilder<NodeDrain> drain)
    {
        drain.ToTable("node_drains");
        drain.HasKey(d => d.Node);
        drain.Property(d => d.Node).HasMaxLength(128);
        drain.Property(d => d.RequestedBy).HasMaxLength(256);
        drain.Ignore(d => d.IsForAllNodes);
    }
}

/// <summary><c>db.NodeDrains</c>: the drain requests.</summary>
internal static class NodeDrainSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<NodeDrain> NodeDrains => db.Set<NodeDrain>();
    }
}
