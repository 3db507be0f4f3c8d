using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Intake;

/// <summary>How the delivery log is stored (<c>deliveries</c>).</summary>
internal sealed class DeliveryTable : IEntityTypeConfiguration<Delivery>
{
    public void Configure(EntityTypeBuilder<Delivery> delivery)
    {
        delivery.ToTable("deliveries");
        delivery.Property(d => d.DeliveryId).HasMaxLength(128);
        delivery.HasIndex(d => d.DeliveryId).IsUnique();
        delivery.Property(d => d.Event).HasMaxLength(64);
        delivery.Property(d => d.Action).HasMaxLength(64);
        delivery.Property(d => d.Repository).HasMaxLength(256);
        delivery.Property(d => d.Result).HasConversion<string>().HasMaxLength(16);
        delivery.Property(d => d.Message).HasMaxLength(512);
        delivery.HasIndex(d => d.ReceivedAt);
        delivery.Property(d => d.RedeliveryOf).HasMaxLength(128);
    }
}

/// <summary><c>db.Deliveries</c>: the delivery log.</summary>
internal static class DeliverySet
{
    extension(HeavenDbContext db)
    {
        public DbSet<Delivery> Deliveries => db.Set<Delivery>();
    }
}
