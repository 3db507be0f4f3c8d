using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Heaven.Deployments;

/// <summary>
/// A Heaven node as it last reported itself (<c>nodes</c>): one row per node id, renewed by the node's
/// <see cref="NodeHeartbeat"/>, so every node sharing the database (and <c>heaven nodes</c>) can see
/// which nodes there are. Whether a node is drained is not kept here: that is <see cref="NodeDrain"/>.
/// </summary>
public sealed class NodeRecord
{
    /// <summary>The node's <see cref="Heaven.Configuration.NodeIdentity.Id"/>, the lease owner of the deployments it runs.</summary>
    public required string Id { get; set; }

    /// <summary>The run of the node that wrote the row last; a restart starts a new run.</summary>
    public required string RunId { get; set; }

    public required string HostName { get; set; }

    /// <summary>The Heaven version the run is, as <c>heaven --version</c> says it.</summary>
    public required string Version { get; set; }

    /// <summary>The node's <c>Deployments:LeaseSeconds</c>: after this long without a heartbeat it is gone.</summary>
    public int LeaseSeconds { get; set; }

    public DateTime StartedAt { get; set; }

    public DateTime HeartbeatAt { get; set; }

    /// <summary>When the node began to stop (SIGTERM, Ctrl+C): it claims nothing new and lets its running deploys finish.</summary>
    public DateTime? StoppingAt { get; set; }

    /// <summary>When the node stopped cleanly.</summary>
    public DateTime? StoppedAt { get; set; }
}

/// <summary>How nodes are stored (<c>nodes</c>).</summary>
internal sealed class NodeRecordTable : IEntityTypeConfiguration<NodeRecord>
{
    public void Configure(EntityTypeBuilder<NodeRecord> node)
    {
        node.ToTable("nodes");
        node.HasKey(n => n.Id);
        node.Property(n => n.Id).HasMaxLength(128);
        node.Property(n => n.RunId).HasMaxLength(64);
        node.Property(n => n.HostName).HasMaxLength(256);
        node.Property(n => n.Version).HasMaxLength(128);
    }
}

/// <summary><c>db.Nodes</c>: the nodes as they last reported themselves.</summary>
internal static class NodeRecordSet
{
    extension(HeavenDbContext db)
    {
        public DbSet<NodeRecord> Nodes => db.Set<NodeRecord>();
    }
}
