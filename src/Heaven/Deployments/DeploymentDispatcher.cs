using Heaven.Configuration;
using Heaven.Execution;
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
/// of one repository). Woken immediately by the intake on this node; a short poll picks up work queued through
/// another node and what a restart left behind.
/// </summary>
internal sealed partial class DeploymentDispatcher(
    DeploymentQueue queue,
    DeploymentRunner runner,
    IProcessRunner processes,
    NodeIdentity node,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    ILogger<DeploymentDispatcher> logger) : BackgroundService, IDeploymentSignal
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim wake = new(0, int.MaxValue);
    private readonly Dictionary<long, Task> running = [];

    public void Notify() => wake.Release();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await RecoverAsync(stoppingToken);
        var maxParallel = options.Value.MaxParallel;
        while (!stoppingToken.IsCancellationRequested)
        {
            while (running.Count < maxParallel)
            {
                ClaimedDeployment? claim;
                try
                {
                    claim = await queue.ClaimNextAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.ClaimFailed(logger, e);
                    break;
                }

                if (claim is null)
                {
                    break;
                }

                var id = claim.Deployment.Id;
                running[id] = Task.Run(() => RunAsync(claim, stoppingToken), CancellationToken.None);
            }

            using (var poll = new CancellationTokenSource(PollInterval, time))
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

            foreach (var done in running.Where(r => r.Value.IsCompleted).Select(r => r.Key).ToList())
            {
                running.Remove(done);
            }
        }

        // Stopping: the runs were cancelled through the token; let each report before the host ends.
        await Task.WhenAll(running.Values);
    }

    private async Task RunAsync(ClaimedDeployment claim, CancellationToken stoppingToken)
    {
        try
        {
            await runner.RunAsync(claim, stoppingToken);
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
