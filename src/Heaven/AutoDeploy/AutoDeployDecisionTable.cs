using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.AutoDeploy;

/// <summary>How auto-deploy decisions are stored (<c>auto_deploy_decisions</c>).</summary>
internal sealed class AutoDeployDecisionTable : IEntityTypeConfiguration<AutoDeployDecision>
{
    public void Configure(EntityTypeBuilder<AutoDeployDecision> decision)
    {
        decision.ToTable("auto_deploy_decisions");
        decision.Property(d => d.Repository).HasMaxLength(256);
        decision.Property(d => d.Sha).HasMaxLength(64);
        decision.Property(d => d.Environment).HasMaxLength(256);
        decision.Property(d => d.Outcome).HasConversion<string>().HasMaxLength(16);
        decision.Property(d => d.Reason).HasMaxLength(1024);
        decision.Property(d => d.Trigger).HasMaxLength(256);
        decision.Property(d => d.DeliveryId).HasMaxLength(128);
        decision.Property(d => d.DeployKey).HasMaxLength(1100);
        decision.HasIndex(d => new { d.Repository, d.Id });
        // The database, not the code, makes sure one commit is auto-deployed to one environment
        // once, whichever evaluation or node gets there first.
        decision.HasIndex(d => d.DeployKey).IsUnique().HasFilter("outcome IN ('Deploying', 'Deployed')").HasDatabaseName("ix_auto_deploy_decisions_claim");
    }
}

/// <summary><c>db.AutoDeployDecisions</c>: what auto-deploy decided.</summary>
internal static class AutoDeployDecisionSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<AutoDeployDecision> AutoDeployDecisions => db.Set<AutoDeployDecision>();
    }
}
