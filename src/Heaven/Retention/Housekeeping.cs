using Heaven.AutoDeploy;
using Heaven.Intake;
using Heaven.Output;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Retention;

/// <summary>
/// Deletes bookkeeping rows past their retention (<see cref="RetentionOptions"/>), so a busy server's
/// database does not grow without end. Small batches: on SQLite every batch holds the one writer
/// lock that the webhook intake also needs. Pending outbox items are never touched, whatever their age.
/// Several nodes may run it at once; deleting what is already gone is harmless.
/// </summary>
public sealed partial class Housekeeping(IHeavenDatabase database, IOptions<RetentionOptions> retention, TimeProvider time, ILogger<Housekeeping> logger) : BackgroundService
{
    private const int BatchSize = 2000;
    private static readonly TimeSpan FirstRunDelay = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(FirstRunDelay, time, stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.Failed(logger, e);
                }

                await Task.Delay(retention.Value.Interval, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One clean-up round; returns how many rows it deleted.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var options = retention.Value;
        var now = time.GetUtcNow().UtcDateTime;
        var deleted = 0;
        if (options.Deliveries is { } deliveries)
        {
            var before = now - deliveries;
            deleted += await DeleteAsync("deliveries", db => db.Deliveries.Where(d => d.ReceivedAt < before).OrderBy(d => d.Id).Take(BatchSize), cancellationToken);
        }

        if (options.WorkItems is { } workItems)
        {
            var before = now - workItems;
            deleted += await DeleteAsync("outbox items", db => db.WorkItems
                .Where(w => w.State != WorkItemState.Pending && w.CompletedAt < before)
                .OrderBy(w => w.Id)
                .Take(BatchSize), cancellationToken);
        }

        if (options.AutoDeployDecisions is { } decisions)
        {
            var before = now - decisions;
            // A claim still being created is never removed, however old: the next evaluation settles it.
            deleted += await DeleteAsync("auto-deploy decisions", db => db.AutoDeployDecisions
                .Where(d => d.DecidedAt < before && d.Outcome != AutoDeploy.AutoDeployOutcome.Deploying)
                .OrderBy(d => d.Id)
                .Take(BatchSize), cancellationToken);
        }

        if (options.DeploymentLogs is { } logs)
        {
            var before = now - logs;
            deleted += await DeleteAsync("deployment log chunks", db => db.LogChunks
                .Where(c => db.Deployments.Any(d => d.Id == c.DeploymentId && d.FinishedAt != null && d.FinishedAt < before))
                .OrderBy(c => c.Id)
                .Take(BatchSize), cancellationToken);
        }

        return deleted;
    }

    private async Task<int> DeleteAsync<T>(string what, Func<HeavenDbContext, IQueryable<T>> batch, CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            int deleted;
            await using (var db = await database.OpenAsync(cancellationToken))
            {
                deleted = await batch(db).ExecuteDeleteAsync(cancellationToken);
            }

            total += deleted;
            if (deleted < BatchSize)
            {
                break;
            }

            // Let the intake's writes in between two batches.
            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
        }

        if (total > 0)
        {
            Log.Deleted(logger, total, what);
        }

        return total;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} {What} past their retention")]
        public static partial void Deleted(ILogger logger, int count, string what);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Cleaning up old rows failed; it is tried again later")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
