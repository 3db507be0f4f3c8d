using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Storage;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>Tells the dispatcher that deployments were queued, so it claims them at once.</summary>
public interface IDeploymentSignal
{
    void Notify();
}

/// <summary>
/// Claims queued deployments and runs them, up to <c>Deployments:MaxParallel</c> at a time on this
/// node (the queue hands out repositories in turn, and at most <c>Deployments:MaxParallelPerRepository</c>
/// of one repository). Woken at once when a deployment is queued or one of its own ends, and when a
/// lock or a drain changes on any node (<see cref="ClusterSignals"/>); a poll
/// (<see cref="DeploymentOptions.DispatchPollInterval"/>) is the safety net for a wake-up that was lost,
/// and picks up what a restart left behind. It claims nothing while the node is drained
/// (<see cref="NodeDrains"/>) or stopping (<see cref="DrainForShutdownAsync"/>): deployments then stay
/// queued for another node, for <c>heaven resume</c>, or for the next start.
/// </summary>
/// <remarks>
/// Several nodes: a node whose intake queued a deployment (or whose deploy ended, freeing a slot and
/// an environment) looks first itself, and wakes the others (<see cref="ClusterTopics.DeploymentQueued"/>)
/// only when it may have left work it cannot take: no free slot, drained or stopping, a repository at
/// its <c>Deployments:MaxParallelPerRepository</c> here. A node with no free slot, drained or stopping
/// ignores the others' announcements (its own ending deploy, or the resume, wakes it). So a deploy
/// costs the nodes that do not run it nothing, and one queued on a full node still starts elsewhere
/// within a round trip. The drain switch is read again when a drain changes, and at least once a poll
/// interval, rather than on every round.
/// </remarks>
internal sealed partial class DeploymentDispatcher(
    DeploymentQueue queue,
    DeploymentRunner runner,
    IProcessRunner processes,
    NodeDrains drains,
    NodeIdentity node,
    ClusterSignals cluster,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    ILogger<DeploymentDispatcher> logger) : BackgroundService, IDeploymentSignal
{

    /// <summary>How long cancelled deploys get to stop and report (their scripts get SIGINT, then SIGTERM, then SIGKILL) before the stop goes on without them.</summary>
    private static readonly TimeSpan CancelledRunsLimit = TimeSpan.FromSeconds(20);

    private readonly SemaphoreSlim wake = new(0, int.MaxValue);

    // Written by the loop only, under its own lock; read under the lock by the stop.
    private readonly Dictionary<long, Run> running = [];
    private readonly CancellationTokenSource shutDown = new();
    private readonly TaskCompletionSource claimingStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool stopping;
    private volatile NodeDrain? drain;

    /// <summary>Set while the loop runs: only then can this node take what its intake queues.</summary>
    private volatile bool dispatching;

    /// <summary>How many deploys run here, for the wake-ups (read outside the loop).</summary>
    private volatile int runningCount;

    /// <summary>1 when this node queued a deployment or ended one since its last round: that round tells the others what it leaves.</summary>
    private int lookForOthers;

    /// <summary>Counts drain announcements; the cached drain switch is good while it matches the count read with it.</summary>
    private int drainChanges;

    private int drainReadAt = -1;
    private long drainReadTime;

    /// <summary>
    /// Deployments were committed to the queue. On one node, or when this node can take them now, its
    /// dispatcher looks (and wakes the others if it leaves some); otherwise every node's dispatcher does.
    /// </summary>
    public void Notify()
    {
        if (cluster.SpansNodes && CanTakeMore)
        {
            Interlocked.Exchange(ref lookForOthers, 1);
            WakeOnce();
            return;
        }

        cluster.Announce(ClusterTopics.DeploymentQueued);
    }

    /// <summary>Whether this node would claim a deployment now, as far as it knows without asking the database.</summary>
    private bool CanTakeMore => dispatching && !stopping && drain is null && runningCount < options.Value.MaxParallel;

    /// <summary>One pending wake is enough however many announcements come while a round runs.</summary>
    private void WakeOnce()
    {
        if (wake.CurrentCount == 0)
        {
            wake.Release();
        }
    }

    /// <summary>Whether this node is stopping (SIGTERM, Ctrl+C): it finishes what runs and claims nothing new.</summary>
    public bool Stopping => stopping;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var subscriptions = new List<IDisposable>
        {
            cluster.Subscribe(ClusterTopics.LocksChanged, _ => WakeOnce()),
            // Counted before the wake, so the round it sets off reads the switch again.
            cluster.Subscribe(ClusterTopics.DrainsChanged, _ =>
            {
                Interlocked.Increment(ref drainChanges);
                WakeOnce();
            }),
        };
        // Another node's queued deployment is worth a look only with a free slot; a full node is woken by its own next ending deploy.
        subscriptions.Add(cluster.Subscribe(ClusterTopics.DeploymentQueued, _ =>
        {
            if (!cluster.SpansNodes || CanTakeMore)
            {
                WakeOnce();
            }
        }));
        // An ending deploy frees a slot and an environment: this node looks, and tells the others what it cannot take.
        subscriptions.Add(cluster.SubscribeHere(ClusterTopics.DeploymentFinished, _ =>
        {
            Interlocked.Exchange(ref lookForOthers, 1);
            WakeOnce();
        }));
        dispatching = true;
        try
        {
            await DispatchAsync(stoppingToken);
        }
        finally
        {
            dispatching = false;
            subscriptions.ForEach(s => s.Dispose());
        }
    }

    private async Task DispatchAsync(CancellationToken stoppingToken)
    {
        await RecoverAsync(stoppingToken);
        var maxParallel = options.Value.MaxParallel;
        var pollInterval = options.Value.DispatchPollInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var othersMayTake = Interlocked.Exchange(ref lookForOthers, 0) == 1;
            var mayClaim = await MayClaimAsync(stoppingToken);
            var leftSome = !mayClaim;
            while (mayClaim)
            {
                if (running.Count >= maxParallel)
                {
                    leftSome = true;
                    break;
                }

                ClaimedDeployment? claim;
                try
                {
                    claim = await queue.ClaimNextAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.ClaimFailed(logger, e);
                    leftSome = true;
                    break;
                }

                if (claim is null)
                {
                    // Nothing this node can take; another could take what this node's per-repository limit holds back.
                    leftSome = AtRepositoryLimit();
                    break;
                }

                var id = claim.Deployment.Id;
                lock (running)
                {
                    running[id] = new Run(Task.Run(() => RunAsync(claim, stoppingToken), CancellationToken.None), claim.Deployment.Repository);
                    runningCount = running.Count;
                }
            }

            if (othersMayTake && leftSome)
            {
                cluster.AnnounceElsewhere(ClusterTopics.DeploymentQueued);
            }

            using (var poll = new CancellationTokenSource(pollInterval, time))
            using (var either = CancellationTokenSource.CreateLinkedTokenSource(poll.Token, stoppingToken))
            {
                try
                {
                    await wake.WaitAsync(either.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The poll interval passed: look for work queued elsewhere.
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            lock (running)
            {
                foreach (var done in running.Where(r => r.Value.Task.IsCompleted).Select(r => r.Key).ToList())
                {
                    running.Remove(done);
                }

                runningCount = running.Count;
            }
        }

        // Stopping: the runs were cancelled through the token; let each report before the host ends.
        Task[] left;
        lock (running)
        {
            left = [.. running.Values.Select(r => r.Task)];
        }

        await Task.WhenAll(left);
    }

    /// <summary>
    /// The graceful stop: from now on this node claims nothing; the deploys running get up to
    /// <paramref name="timeout"/> to finish (or until <paramref name="cancelNow"/>: a second SIGTERM),
    /// then those still running are cancelled as a cancel request would (their scripts get SIGINT) and
    /// end with "Cancelled: Heaven was shut down". Returns once every deploy has reported, or
    /// <see cref="CancelledRunsLimit"/> after the cancel.
    /// </summary>
    public async Task DrainForShutdownAsync(TimeSpan timeout, CancellationToken cancelNow)
    {
        stopping = true;
        wake.Release();
        // A claim being made right now is let through: it is waited for like the others.
        await Task.WhenAny(claimingStopped.Task, ExecuteTask ?? Task.CompletedTask);
        Task[] runs;
        lock (running)
        {
            runs = [.. running.Values.Select(r => r.Task).Where(r => !r.IsCompleted)];
        }

        var all = Task.WhenAll(runs);
        if (runs.Length == 0)
        {
            Log.StoppingIdle(logger);
            return;
        }

        Log.Draining(logger, runs.Length, (int)timeout.TotalSeconds);
        using (var waited = new CancellationTokenSource(timeout, time))
        using (var either = CancellationTokenSource.CreateLinkedTokenSource(waited.Token, cancelNow))
        {
            try
            {
                await all.WaitAsync(either.Token);
                Log.Drained(logger, runs.Length);
                return;
            }
            catch (OperationCanceledException)
            {
                Log.CancellingRuns(logger, runs.Count(r => !r.IsCompleted), cancelNow.IsCancellationRequested ? "Heaven was told to stop a second time" : "Deployments:DrainTimeout passed");
            }
        }

        await shutDown.CancelAsync();
        try
        {
            await all.WaitAsync(CancelledRunsLimit, time);
        }
        catch (TimeoutException)
        {
            // Its lease runs out and the next start (or another node) reports it lost: the honest outcome.
            Log.RunsDidNotStop(logger, runs.Count(r => !r.IsCompleted), (int)CancelledRunsLimit.TotalSeconds);
        }
    }

    /// <summary>Whether this round may claim: not while stopping, nor while <c>heaven drain</c> holds this node.</summary>
    private async Task<bool> MayClaimAsync(CancellationToken cancellationToken)
    {
        if (stopping)
        {
            claimingStopped.TrySetResult();
            return false;
        }

        // On one node `heaven drain` is a command beside the server and tells it nothing: read every round.
        var changes = Volatile.Read(ref drainChanges);
        if (cluster.SpansNodes && changes == drainReadAt && time.GetElapsedTime(drainReadTime) < options.Value.DispatchPollInterval)
        {
            return drain is null;
        }

        NodeDrain? now;
        try
        {
            var readTime = time.GetTimestamp();
            now = await drains.ForThisNodeAsync(cancellationToken);
            (drainReadAt, drainReadTime) = (changes, readTime);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The database is away: a claim would fail as well.
            Log.ClaimFailed(logger, e);
            return false;
        }

        if (now is not null && drain is null)
        {
            Log.DrainedByCommand(logger, now.IsForAllNodes ? "every node" : "this node", now.RequestedBy, now.RequestedAt);
        }
        else if (now is null && drain is not null)
        {
            Log.Resumed(logger);
        }

        drain = now;
        return now is null;
    }

    /// <summary>Whether a repository runs <c>Deployments:MaxParallelPerRepository</c> deploys here (its further deployments wait for a slot of it here, or another node).</summary>
    private bool AtRepositoryLimit()
    {
        lock (running)
        {
            return running.Values.Where(r => !r.Task.IsCompleted)
                .CountBy(r => r.Repository, StringComparer.Ordinal)
                .Any(c => c.Value >= options.Value.MaxParallelPerRepository);
        }
    }

    private sealed record Run(Task Task, string Repository);

    private async Task RunAsync(ClaimedDeployment claim, CancellationToken stoppingToken)
    {
        try
        {
            await runner.RunAsync(claim, stoppingToken, shutDown.Token);
        }
        catch (Exception e)
        {
            // The lease expires and the reaper reports it; never let one deployment stop the dispatcher.
            Log.RunFailed(logger, claim.Deployment.Id, e);
        }
        finally
        {
            wake.Release();
        }
    }

    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        try
        {
            // This node runs nothing yet: anything carrying its mark was left by its previous run,
            // which was killed. Stopped before the deployments are reported lost and their
            // environments are free again, so an old deploy never overlaps a new one.
            var orphans = await processes.StopOrphansAsync(node.Id + "/", cancellationToken);
            if (orphans > 0)
            {
                Log.OrphansStopped(logger, orphans);
            }

            var reaped = await queue.ReapAsync(includeOwnLeases: true, cancellationToken);
            if (reaped > 0)
            {
                Log.Recovered(logger, reaped);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ClaimFailed(logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Could not claim queued deployments")]
        public static partial void ClaimFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} stopped unexpectedly")]
        public static partial void RunFailed(ILogger logger, long deploymentId, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopped {Count} deploy processes Heaven's previous run left running")]
        public static partial void OrphansStopped(ILogger logger, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} deployments were left running by Heaven's previous run; reported as errored, not re-run")]
        public static partial void Recovered(ILogger logger, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: this node takes no new deployments (webhooks are still recorded; queued deployments wait for the next start or another node); no deploy is running")]
        public static partial void StoppingIdle(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: this node takes no new deployments (webhooks are still recorded; queued deployments wait for the next start or another node); waiting up to {Seconds} s (Deployments:DrainTimeout) for {Count} running deploys to finish; send SIGTERM (or Ctrl+C) again to cancel them now")]
        public static partial void Draining(ILogger logger, int count, int seconds);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: the {Count} running deploys finished")]
        public static partial void Drained(ILogger logger, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: cancelling {Count} running deploys ({Why}); they end with \"Cancelled: Heaven was shut down\"")]
        public static partial void CancellingRuns(ILogger logger, int count, string why);

        [LoggerMessage(Level = LogLevel.Error, Message = "Stopping: {Count} cancelled deploys did not stop within {Seconds} s; Heaven stops without their outcome (they are reported lost on the next start)")]
        public static partial void RunsDidNotStop(ILogger logger, int count, int seconds);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Drained ({Scope}, by {By} at {At:u}): this node starts no new deployments; running deploys finish; 'heaven resume' lifts it")]
        public static partial void DrainedByCommand(ILogger logger, string scope, string by, DateTime at);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Resumed: this node takes deployments again")]
        public static partial void Resumed(ILogger logger);
    }
}

/// <summary>Reports deployments whose worker stopped renewing its lease (a node died or hung).</summary>
internal sealed partial class DeploymentReaper(DeploymentQueue queue, TimeProvider time, IOptions<DeploymentOptions> options, ILogger<DeploymentReaper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, options.Value.LeaseSeconds / 3));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stoppingToken);
                await queue.ReapAsync(includeOwnLeases: false, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log.ReapFailed(logger, e);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Could not look for deployments whose worker was lost")]
        public static partial void ReapFailed(ILogger logger, Exception exception);
    }
}
