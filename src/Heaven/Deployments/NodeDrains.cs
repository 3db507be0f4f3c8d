using Heaven.Configuration;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Deployments;

/// <summary>
/// <c>heaven drain</c> and <c>heaven resume</c>: whether this node (or every node) claims new
/// deployments. A drained node keeps answering webhooks (they are recorded and wait in the queue) and
/// lets its running deploys finish. A change is announced to every node
/// (<see cref="ClusterTopics.DrainsChanged"/>), so a running server follows it at once; on PostgreSQL the
/// dispatcher reads the switch again then and at least once a poll interval (so within it when the
/// announcement is lost), on SQLite on every round (the command's announcement stays in its own process).
/// </summary>
public sealed class NodeDrains(IHeavenDatabase database, NodeIdentity node, TimeProvider time, ClusterSignals cluster)
{
    /// <summary>This node's name, as <c>heaven drain</c> stores it.</summary>
    public string NodeId => node.Id;

    /// <summary>What drains this node: its own request, or one for every node (its own first); null when it takes deployments.</summary>
    public async Task<NodeDrain?> ForThisNodeAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var nodeId = node.Id;
        var drains = await db.NodeDrains.AsNoTracking()
            .Where(d => d.Node == nodeId || d.Node == NodeDrain.AllNodes)
            .ToListAsync(cancellationToken);
        return drains.OrderBy(d => d.IsForAllNodes).FirstOrDefault();
    }

    /// <summary>Every drain request, for every node.</summary>
    public async Task<List<NodeDrain>> AllAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.NodeDrains.AsNoTracking().OrderBy(d => d.Node).ToListAsync(cancellationToken);
    }

    /// <summary>Drains this node, or every node; a request already standing is kept as it was (who and when). Returns the one in force.</summary>
    public async Task<NodeDrain> DrainAsync(bool allNodes, string requestedBy, CancellationToken cancellationToken)
    {
        var key = allNodes ? NodeDrain.AllNodes : node.Id;
        await using var db = await database.OpenAsync(cancellationToken);
        if (await db.NodeDrains.AsNoTracking().SingleOrDefaultAsync(d => d.Node == key, cancellationToken) is { } standing)
        {
            return standing;
        }

        var drain = new NodeDrain { Node = key, RequestedBy = requestedBy, RequestedAt = time.GetUtcNow().UtcDateTime };
        db.NodeDrains.Add(drain);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            // Awaited: heaven drain exits right after this.
            await cluster.AnnounceAsync(ClusterTopics.DrainsChanged, key, cancellationToken);
            return drain;
        }
        catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
        {
            // Drained by someone else at the same moment: theirs stands.
            db.ChangeTracker.Clear();
            return await db.NodeDrains.AsNoTracking().SingleAsync(d => d.Node == key, cancellationToken);
        }
    }

    /// <summary>
    /// Lifts this node's own drain, or (<paramref name="allNodes"/>) every drain of every node. Returns
    /// the requests lifted; a drain of every node still holds this one after a plain resume.
    /// </summary>
    public async Task<List<NodeDrain>> ResumeAsync(bool allNodes, CancellationToken cancellationToken)
    {
        var nodeId = node.Id;
        await using var db = await database.OpenAsync(cancellationToken);
        var lifted = db.NodeDrains.Where(d => allNodes || d.Node == nodeId);
        var requests = await lifted.AsNoTracking().ToListAsync(cancellationToken);
        await lifted.ExecuteDeleteAsync(cancellationToken);
        await cluster.AnnounceAsync(ClusterTopics.DrainsChanged, allNodes ? NodeDrain.AllNodes : nodeId, cancellationToken);
        return requests;
    }
}
