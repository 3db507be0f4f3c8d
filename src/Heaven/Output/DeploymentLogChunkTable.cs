using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Output;

/// <summary>How deploy logs are stored (<c>deployment_log_chunks</c>).</summary>
internal sealed class DeploymentLogChunkTable : IEntityTypeConfiguration<DeploymentLogChunk>
{
    public void Configure(EntityTypeBuilder<DeploymentLogChunk> chunk)
    {
        chunk.ToTable("deployment_log_chunks");
        chunk.HasIndex(c => new { c.DeploymentId, c.Sequence }).IsUnique();
    }
}

/// <summary><c>db.LogChunks</c>: the deploy logs, in chunks.</summary>
internal static class DeploymentLogChunkSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<DeploymentLogChunk> LogChunks => db.Set<DeploymentLogChunk>();
    }
}
