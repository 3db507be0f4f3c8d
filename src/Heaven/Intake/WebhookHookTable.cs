using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Intake;

/// <summary>How the hooks GitHub has pinged from are stored (<c>webhook_hooks</c>).</summary>
internal sealed class WebhookHookTable : IEntityTypeConfiguration<WebhookHook>
{
    public void Configure(EntityTypeBuilder<WebhookHook> hook)
    {
        hook.ToTable("webhook_hooks");
        hook.HasKey(h => h.HookId);
        hook.Property(h => h.HookId).ValueGeneratedNever();
        hook.Property(h => h.Type).HasMaxLength(64);
        hook.Property(h => h.Target).HasMaxLength(256);
        hook.Property(h => h.Events).HasMaxLength(2048);
    }
}

/// <summary><c>db.Hooks</c>: the hooks GitHub has pinged from.</summary>
internal static class WebhookHookSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<WebhookHook> Hooks => db.Set<WebhookHook>();
    }
}
