using System.Globalization;
using Heaven.AutoDeploy;
using Heaven.Checkout;
using Heaven.Intake;
using Heaven.Model;
using Heaven.Output;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Retention;

/// <summary>
/// Deletes bookkeeping rows, deploy logs (leaving a notice, and the gist through the outbox when asked)
/// and unused mirrors past their retention (<see cref="RetentionOptions"/>), so a busy server's
/// database and disk do not grow without end; then lets SQLite give the freed pages back to the file
/// system. Small batches: on SQLite every batch holds the one writer lock that the webhook intake
/// also needs. Pending outbox items are never touched, whatever their age. Several nodes may run it
/// at once; deleting what is already gone is harmless.
/// </summary>
internal sealed partial class Housekeeping(
    IHeavenDatabase database,
    IOptions<RetentionOptions> retention,
    TimeProvider time,
    ILogger<Housekeeping> logger,
    GitCheckout? checkout = null) : BackgroundService
{
    /// <summary>
    /// The sequence of the one chunk that stands for a removed log: after every chunk a deploy writes,
    /// so readers (page, API, <c>heaven log</c>) show it as the log's only line.
    /// </summary>
    public const int RemovedLogNoticeSequence = int.MaxValue;

    private const int LogBatchSize = 200;

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

        if (options.LogRetention is { } logs)
        {
            deleted += await RemoveLogsAsync(now - logs, logs, options.DeleteGists, cancellationToken);
        }

        if (options.Mirrors is { } mirrors)
        {
            await RemoveMirrorsAsync(now - mirrors, cancellationToken);
        }

        if (deleted > 0)
        {
            await CompactAsync(cancellationToken);
        }

        return deleted;
    }

    /// <summary>
    /// Replaces the logs of deployments finished before <paramref name="before"/> by a one-line notice,
    /// and queues their gists for deletion when <paramref name="deleteGists"/>. Returns the chunks deleted.
    /// </summary>
    private async Task<int> RemoveLogsAsync(DateTime before, TimeSpan retention, bool deleteGists, CancellationToken cancellationToken)
    {
        var total = 0;
        var removed = 0;
        var notice = "h" + string.Create(CultureInfo.InvariantCulture, $"This log was removed on {time.GetUtcNow():yyyy-MM-dd}: deploy logs are kept {retention.TotalDays:0.#} days after a deployment finishes (Retention:Logs).") + "\n";
        while (true)
        {
            await using var db = await database.OpenAsync(cancellationToken);
            var batch = await db.Deployments.AsNoTracking()
                .Where(d => d.FinishedAt != null && d.FinishedAt < before
                    && (db.Set<DeploymentLogChunk>().Any(c => c.DeploymentId == d.Id && c.Sequence != RemovedLogNoticeSequence) || (deleteGists && d.GistId != null)))
                .OrderBy(d => d.Id)
                .Select(d => new { d.Id, d.Repository, d.GistId })
                .Take(LogBatchSize)
                .ToListAsync(cancellationToken);
            if (batch.Count == 0)
            {
                break;
            }

            var ids = batch.Select(d => d.Id).ToList();
            await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
            {
                total += await db.LogChunks.Where(c => ids.Contains(c.DeploymentId) && c.Sequence != RemovedLogNoticeSequence).ExecuteDeleteAsync(cancellationToken);
                var noticed = await db.LogChunks.Where(c => ids.Contains(c.DeploymentId) && c.Sequence == RemovedLogNoticeSequence).Select(c => c.DeploymentId).ToListAsync(cancellationToken);
                var at = time.GetUtcNow().UtcDateTime;
                foreach (var id in ids.Except(noticed))
                {
                    db.LogChunks.Add(new DeploymentLogChunk { DeploymentId = id, Sequence = RemovedLogNoticeSequence, FirstLine = 0, LineCount = 1, Content = notice, CreatedAt = at });
                }

                if (deleteGists)
                {
                    foreach (var deployment in batch.Where(d => d.GistId is not null))
                    {
                        db.WorkItems.Add(new WorkItem
                        {
                            Kind = GistDeleter.Kind,
                            Repository = deployment.Repository,
                            DeploymentId = deployment.Id,
                            PayloadJson = GistDeleter.Payload(deployment.GistId!),
                            CreatedAt = at,
                            NotBefore = at,
                        });
                    }

                    // The link would lead nowhere once the gist is gone.
                    await db.Deployments.Where(d => ids.Contains(d.Id) && d.GistId != null)
                        .ExecuteUpdateAsync(u => u.SetProperty(d => d.GistId, (string?)null).SetProperty(d => d.GistUrl, (string?)null), cancellationToken);
                }

                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }

            removed += ids.Count;
            if (batch.Count < LogBatchSize)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
        }

        if (removed > 0)
        {
            Log.LogsRemoved(logger, removed, total);
        }

        return total;
    }

    /// <summary>
    /// Removes the mirrors of repositories with no deployment since <paramref name="before"/> and none
    /// queued or running, and not fetched since either: under the checkout's own lock, asking the
    /// database again once it is held.
    /// </summary>
    private async Task RemoveMirrorsAsync(DateTime before, CancellationToken cancellationToken)
    {
        if (checkout is null)
        {
            return;
        }

        foreach (var (repository, path) in checkout.ListMirrors())
        {
            if (LastWrite(path) >= before || !await UnusedSinceAsync(repository, before, cancellationToken))
            {
                continue;
            }

            try
            {
                if (await checkout.RemoveMirrorAsync(repository, token => UnusedSinceAsync(repository, before, token), cancellationToken))
                {
                    Log.MirrorRemoved(logger, repository);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.MirrorNotRemoved(logger, repository, e.Message);
            }
        }
    }

    private async Task<bool> UnusedSinceAsync(string repository, DateTime before, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        var lower = repository.ToLowerInvariant();
        return !await db.Deployments.AnyAsync(
            d => d.Repository.ToLower() == lower
                && (d.State == DeploymentState.Queued || d.State == DeploymentState.Running || d.ReceivedAt >= before || (d.FinishedAt != null && d.FinishedAt >= before)),
            cancellationToken);
    }

    /// <summary>When git last wrote to the mirror: its newest fetch, or the folder itself.</summary>
    private static DateTime LastWrite(string mirror)
    {
        var fetchHead = Path.Combine(mirror, "FETCH_HEAD");
        var folder = Directory.GetLastWriteTimeUtc(mirror);
        return File.Exists(fetchHead) && File.GetLastWriteTimeUtc(fetchHead) > folder ? File.GetLastWriteTimeUtc(fetchHead) : folder;
    }

    /// <summary>
    /// Gives the pages freed by the deletions back to the file system. SQLite: an incremental vacuum
    /// (a database made before Heaven turned auto_vacuum on is converted once, by a full VACUUM), then
    /// a checkpoint so the write-ahead log shrinks too. PostgreSQL: its autovacuum does this.
    /// </summary>
    private async Task CompactAsync(CancellationToken cancellationToken)
    {
        if (database.Provider != DatabaseProvider.Sqlite)
        {
            return;
        }

        await using var db = await database.OpenAsync(cancellationToken);
        await db.Database.OpenConnectionAsync(cancellationToken);
        var mode = await db.Database.SqlQueryRaw<long>("SELECT auto_vacuum AS Value FROM pragma_auto_vacuum").SingleAsync(cancellationToken);
        if (mode != StorageRegistration.SqliteIncrementalVacuum)
        {
            Log.Converting(logger);
            await db.Database.ExecuteSqlRawAsync("PRAGMA auto_vacuum=INCREMENTAL;", cancellationToken);
            await db.Database.ExecuteSqlRawAsync("VACUUM;", cancellationToken);
        }
        else
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA incremental_vacuum;", cancellationToken);
        }

        await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);", cancellationToken);
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

        [LoggerMessage(Level = LogLevel.Information, Message = "Removed the logs of {Deployments} deployments past Retention:Logs ({Chunks} chunks)")]
        public static partial void LogsRemoved(ILogger logger, int deployments, int chunks);

        [LoggerMessage(Level = LogLevel.Information, Message = "Removed the mirror of {Repository}: nothing deployed from it within Retention:Mirrors")]
        public static partial void MirrorRemoved(ILogger logger, string repository);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The mirror of {Repository} could not be removed: {Problem}")]
        public static partial void MirrorNotRemoved(ILogger logger, string repository, string problem);

        [LoggerMessage(Level = LogLevel.Information, Message = "Compacting the SQLite database once (VACUUM) to turn on incremental vacuum; later clean-ups shrink it as they go")]
        public static partial void Converting(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Cleaning up old rows failed; it is tried again later")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
