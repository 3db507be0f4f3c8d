using System.Runtime.CompilerServices;
using Heaven.Model;
using Heaven.Storage;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Output;

/// <summary>Where a deployment stands, as a viewer of its log is told.</summary>
public sealed record DeploymentLogState(DeploymentState State, string? Description)
{
    /// <summary>Finished (or never run): no more output will come.</summary>
    public bool IsFinished => State is not (DeploymentState.Queued or DeploymentState.Running);
}

/// <summary>
/// Follows a deployment's log from a line on until the deployment is finished, on any node: the stored
/// lines first, then, when this node writes the log, its live feed; otherwise the database every
/// <see cref="PollInterval"/>. Every line comes once, in order; lines the stored log elided are skipped.
/// </summary>
public sealed class DeploymentLogFollower(IHeavenDatabase database, DeploymentLogReader reader, LiveLogs liveLogs, TimeProvider? timeProvider = null)
{
    /// <summary>How often the database is asked for new lines of a log written on another node.</summary>
    public static readonly TimeSpan PollInterval = DeploymentLog.FlushInterval;

    /// <summary>Lines that left the live ring are stored within the flush interval: ask again after a part of it.</summary>
    private static readonly TimeSpan StoreWait = TimeSpan.FromMilliseconds(50);

    private readonly TimeProvider time = timeProvider ?? TimeProvider.System;

    /// <summary>The deployment's state and status text; null when there is no such deployment.</summary>
    public async Task<DeploymentLogState?> StateAsync(long deploymentId, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken);
        return await db.Deployments.AsNoTracking()
            .Where(d => d.Id == deploymentId)
            .Select(d => new DeploymentLogState(d.State, d.StatusDescription))
            .SingleOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// The lines numbered <paramref name="fromLine"/> and later, as they come, ending once the deployment
    /// is finished and every stored line was given (at once for a finished deployment). A line printed
    /// on this node arrives as it is printed; on another node, within about <see cref="PollInterval"/>
    /// of being stored.
    /// </summary>
    public async IAsyncEnumerable<LogLine> FollowAsync(long deploymentId, long fromLine = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var next = Math.Max(0, fromLine);
        var liveDone = false;
        while (true)
        {
            var feed = liveDone ? null : liveLogs.Find(deploymentId);
            if (feed is null)
            {
                // Written on another node, or not (any more) on this one: the database alone. The state
                // is read first: output is stored before a deployment is marked finished, so a read after
                // seeing it finished finds every line.
                var state = await StateAsync(deploymentId, cancellationToken);
                await foreach (var line in reader.ReadAsync(deploymentId, next, cancellationToken))
                {
                    yield return line;
                    next = line.Number + 1;
                }

                if (state is null || state.IsFinished)
                {
                    yield break;
                }

                // A deployment queued here may start here meanwhile: its live feed is looked for more often
                // than the database is asked.
                for (var waited = TimeSpan.Zero; waited < PollInterval && (liveDone || liveLogs.Find(deploymentId) is null); waited += StoreWait)
                {
                    await Task.Delay(StoreWait, time, cancellationToken);
                }

                continue;
            }

            while (true)
            {
                while (feed.TryRead(next, out var line))
                {
                    yield return line;
                    next++;
                }

                var complete = feed.IsComplete;
                if (next < feed.Published)
                {
                    // Not in the ring: this viewer starts before it, or fell behind it. The database has the
                    // line, or will within the flush interval; or it was elided there, and the next stored
                    // line is the one to go on with.
                    var progressed = false;
                    await foreach (var stored in reader.ReadAsync(deploymentId, next, cancellationToken))
                    {
                        yield return stored;
                        next = stored.Number + 1;
                        progressed = true;
                        if (feed.TryRead(next, out _))
                        {
                            break;
                        }
                    }

                    if (!progressed)
                    {
                        if (complete)
                        {
                            // Stored everything there is: what is missing was elided or could not be stored.
                            next = feed.Published;
                        }
                        else
                        {
                            await Task.Delay(StoreWait, time, cancellationToken);
                        }
                    }

                    continue;
                }

                if (complete)
                {
                    // Every line is stored; the deployment is marked finished moments later.
                    liveDone = true;
                    break;
                }

                await feed.WaitForLineAsync(next, cancellationToken);
            }
        }
    }
}
