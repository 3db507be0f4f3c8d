using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Reconciliation;

/// <summary>
/// The last reconciliation pass over one repository (<c>reconciliation_turns</c>): with several nodes on
/// one PostgreSQL database, the node that moves <see cref="LastPassAt"/> forward takes the turn and the
/// others leave the repository alone for that interval. Nothing depends on it for correctness: GitHub's
/// ids make a second pass harmless; it only saves GitHub requests.
/// </summary>
internal sealed class ReconciliationTurn
{
    public required string Repository { get; set; }

    public DateTime LastPassAt { get; set; }

    /// <summary>The node that took the last turn.</summary>
    public required string Node { get; set; }
}

internal sealed class ReconciliationTurnTable : IEntityTypeConfiguration<ReconciliationTurn>
{
    public void Configure(EntityTypeBuilder<ReconciliationTurn> turn)
    {
        turn.ToTable("reconciliation_turns");
        turn.HasKey(t => t.Repository);
        turn.Property(t => t.Repository).HasMaxLength(256);
        turn.Property(t => t.Node).HasMaxLength(256);
    }
}

/// <summary><c>db.ReconciliationTurns</c>.</summary>
internal static class ReconciliationTurnSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<ReconciliationTurn> ReconciliationTurns => db.Set<ReconciliationTurn>();
    }
}
