using Heaven.Configuration;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Deployments;

/// <summary>What a node is doing, as <c>heaven nodes</c>, the nodes page and the API name it.</summary>
public enum NodeState
{
    /// <summary>Heart-beating and taking deployments.</summary>
    Running,

    /// <summary>Heart-beating, drained by <c>heaven drain</c>: starts no new deployment.</summary>
    Draining,

    /// <summary>Heart-beating, on its way down (SIGTERM, Ctrl+C): its running deploys finish, nothing new starts.</summary>
    Stopping,

    /// <summary>Stopped cleanly.</summary>
    Stopped,

    /// <summary>No heartbeat for longer than its lease: killed, hung or cut off. Its running deployments are reported lost.</summary>
    Gone,
}

/// <summary>One node as listed.</summary>
/// <param name="RunningDeployments">Deployments in the Running state whose lease this node holds (a gone node's until the reaper reports them lost).</param>
/// <param name="Drain">The drain in force for it (its own, or one of every node), if any.</param>
/// <param name="ThisNode">Whether it is the node of the data directory asking.</param>
public sealed record NodeView(
    string Id,
    string RunId,
    string HostName,
    string Version,
    NodeState State,
    DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeatAt,
    int LeaseSeconds,
    int RunningDeployments,
    NodeDrain? Drain,
    DateTimeOffset? StoppingAt,
    DateTimeOffset? StoppedAt,
    bool ThisNode);

/// <summary>
/// The nodes sharing the database, as their heartbeats (<see cref="NodeHeartbeat"/>) left them: which
/// run, which version, since when, how many deployments each runs, whether drained, stopping, stopped
/// or gone. Rows of nodes gone or stopped for <see cref="KeptFor"/> are removed by the heartbeats of
/// the nodes still running.
/// </summary>
public sealed class NodeMembership(IHeavenDatabase database, NodeIdentity node, TimeProvider time)
{
    /// <summary>How long a gone or stopped node stays listed after its last heartbeat.</summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromDays(7);

    /// <summary>
    /// What a node is at <paramref name="now"/>. Gone is decided as the reaper decides a deployment lost:
    /// its last renewal is older than its lease (a stopped node is stopped, however old).
    /// </summary>
    public static NodeState StateOf(NodeRecord record, bool drained, DateTime now) => record switch
    {
        { StoppedAt: not null } => NodeState.Stopped,
        _ when record.HeartbeatAt + TimeSpan.FromSeconds(record.LeaseSeconds) < now => NodeState.Gone,
        { StoppingAt: not null } => NodeState.Stopping,
        _ when drained => NodeState.Draining,
        _ => NodeState.Running,
    };

    /// <summary>Every node: the live ones first (running, draining, stopping), then the gone and the stopped, each by id.</summary>
    public async Task<List<NodeView>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var records = await db.Nodes.AsNoTracking().ToListAsync(cancellationToken);
        var running = await db.Deployments.AsNoTracking()
            .Where(d => d.State == DeploymentState.Running && d.LeaseOwner != null)
            .GroupBy(d => d.LeaseOwner!)
            .Select(g => new { Owner = g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Owner, g => g.Count, cancellationToken);
        var drains = await db.NodeDrains.AsNoTracking().ToListAsync(cancellationToken);
        var all = drains.FirstOrDefault(d => d.IsForAllNodes);
        var now = time.GetUtcNow().UtcDateTime;
        return records
            .Select(r =>
            {
                var drain = drains.FirstOrDefault(d => d.Node == r.Id) ?? all;
                return new NodeView(
                    r.Id,
                    r.RunId,
                    r.HostName,
                    r.Version,
                    StateOf(r, drain is not null, now),
                    Utc(r.StartedAt),
                    Utc(r.HeartbeatAt),
                    r.LeaseSeconds,
                    running.GetValueOrDefault(r.Id),
                    drain,
                    r.StoppingAt is { } stopping ? Utc(stopping) : null,
                    r.StoppedAt is { } stopped ? Utc(stopped) : null,
                    r.Id == node.Id);
            })
            .OrderBy(n => n.State is NodeState.Gone or NodeState.Stopped)
            .ThenBy(n => n.Id, StringComparer.Ordinal)
            .ToList();
    }

    private static DateTimeOffset Utc(DateTime at) => new(DateTime.SpecifyKind(at, DateTimeKind.Utc));
}
