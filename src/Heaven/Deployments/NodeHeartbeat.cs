using Heaven.Configuration;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>
/// Keeps this node's row in <c>nodes</c> (<see cref="NodeRecord"/>): written when the node starts,
/// renewed every third of <c>Deployments:LeaseSeconds</c> (the cadence of the deployments' own lease
/// renewals, so a node is shown gone about when its deployments are reported lost), marked stopping
/// when the node begins to stop and stopped when it has. Each beat also removes the rows of nodes
/// gone or stopped for longer than <see cref="NodeMembership.KeptFor"/>.
/// </summary>
internal sealed partial class NodeHeartbeat(
    IHeavenDatabase database,
    NodeIdentity node,
    DeploymentDispatcher dispatcher,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    ILogger<NodeHeartbeat> logger) : BackgroundService
{
    private DateTime startedAt;

    private static readonly TimeSpan StopWriteLimit = TimeSpan.FromSeconds(5);

    private DateTime? stoppingAt;

    private static string HostName => Clip(Environment.MachineName, 256);

    private static string Version => Clip(HeavenVersion.Current, 128);

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    private TimeSpan Interval => TimeSpan.FromSeconds(Math.Max(1, options.Value.LeaseSeconds / 3));

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        startedAt = Now;
        try
        {
            await BeatAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The next beat tries again; being listed is not worth refusing to start over.
            Log.BeatFailed(logger, e);
        }

        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // An unreachable database must not hold the stop up: unrecorded, the node shows gone instead.
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(StopWriteLimit);
        try
        {
            var now = Now;
            stoppingAt ??= now;
            await WriteAsync(now, stoppedAt: now, bounded.Token);
        }
        catch (Exception e)
        {
            // Then the node is shown gone once its lease has passed, which is also true.
            Log.BeatFailed(logger, e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, time, stoppingToken);
                await BeatAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log.BeatFailed(logger, e);
            }
        }
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        if (stoppingAt is null && dispatcher.Stopping)
        {
            stoppingAt = now;
        }

        await WriteAsync(now, stoppedAt: null, cancellationToken);
        var forgotten = now - NodeMembership.KeptFor;
        await using var db = await database.OpenAsync(cancellationToken);
        await db.Nodes.Where(n => n.HeartbeatAt < forgotten).ExecuteDeleteAsync(cancellationToken);
    }

    /// <summary>This run's row as it is now; inserted when missing (the first beat, or a row removed meanwhile).</summary>
    private async Task WriteAsync(DateTime now, DateTime? stoppedAt, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var row = await db.Nodes.SingleOrDefaultAsync(n => n.Id == node.Id, cancellationToken);
        if (row is null)
        {
            row = new NodeRecord { Id = node.Id, RunId = node.RunId, HostName = HostName, Version = Version };
            db.Nodes.Add(row);
        }

        row.RunId = node.RunId;
        row.HostName = HostName;
        row.Version = Version;
        row.LeaseSeconds = options.Value.LeaseSeconds;
        row.StartedAt = startedAt;
        row.HeartbeatAt = now;
        row.StoppingAt = stoppingAt;
        row.StoppedAt = stoppedAt;
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (DatabaseErrors.IsUniqueViolation(e))
        {
            // Two writes of this node's first row at once (start and a beat): the other one is in, and
            // the next beat updates it.
        }
    }

    private static string Clip(string text, int length) => text.Length <= length ? text : text[..length];

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record this node's heartbeat in the nodes table; trying again at the next beat")]
        public static partial void BeatFailed(ILogger logger, Exception exception);
    }
}
