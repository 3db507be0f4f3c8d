using System.Threading.Channels;
using Heaven.Storage;

namespace Heaven.Deployments;

/// <summary>
/// Runs beside a deploy: renews the lease, and notices a cancel request made on any node — at once
/// when the request is announced (<see cref="ClusterTopics.CancelRequested"/>), else at its next look
/// at the flag, about every second — or that the lease was lost (then the deploy is stopped: someone
/// else owns its fate).
/// </summary>
internal sealed partial class LeaseWatch : IAsyncDisposable
{
    private readonly TimeSpan pollInterval;
    private readonly Channel<bool> lookNow = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly IDisposable subscription;
    private readonly DeploymentQueue queue;
    private readonly ClaimedDeployment claim;
    private readonly CancellationTokenSource run;
    private readonly TimeProvider time;
    private readonly TimeSpan renewEvery;
    private readonly ILogger logger;
    // Not disposed: its token is only read by the loop, which has ended once DisposeAsync returns.
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public LeaseWatch(DeploymentQueue queue, ClaimedDeployment claim, CancellationTokenSource run, TimeProvider time, TimeSpan lease, TimeSpan cancelPoll, ClusterSignals cluster, ILogger logger)
    {
        this.queue = queue;
        this.claim = claim;
        this.run = run;
        this.time = time;
        this.logger = logger;
        renewEvery = lease / 3;
        // The lease is renewed on time however seldom the flag is polled.
        pollInterval = cancelPoll < renewEvery ? cancelPoll : renewEvery;
        subscription = cluster.SubscribeToDeployment(ClusterTopics.CancelRequested, claim.Deployment.Id, LookNow);
        loop = Task.Run(LoopAsync);
    }

    public string? CancelledBy { get; private set; }

    public bool LeaseLost { get; private set; }

    private async Task LoopAsync()
    {
        var lastRenewal = time.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using (var poll = new CancellationTokenSource(pollInterval, time))
                using (var either = CancellationTokenSource.CreateLinkedTokenSource(poll.Token, stop.Token))
                {
                    try
                    {
                        await lookNow.Reader.WaitToReadAsync(either.Token);
                        lookNow.Reader.TryRead(out _);
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        // The poll: a cancel whose announcement was lost is found here.
                    }
                }

                if (CancelledBy is null && await queue.CancelRequestedByAsync(claim.Deployment.Id, stop.Token) is { } who)
                {
                    CancelledBy = who;
                    Log.CancelNoticed(logger, claim.Deployment.Id, who);
                    await run.CancelAsync();
                }

                if (time.GetElapsedTime(lastRenewal) >= renewEvery)
                {
                    if (!await queue.RenewAsync(claim, stop.Token))
                    {
                        LeaseLost = true;
                        Log.LeaseLost(logger, claim.Deployment.Id);
                        await run.CancelAsync();
                        return;
                    }

                    lastRenewal = time.GetTimestamp();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A database hiccup: keep the deploy going; if it lasts, the lease expires and the
                // reaper reports the deployment, which is the honest outcome.
                Log.WatchFailed(logger, claim.Deployment.Id, e);
            }
        }
    }

    /// <summary>One pending look covers any number of announcements.</summary>
    private void LookNow() => lookNow.Writer.TryWrite(true);

    public async ValueTask DisposeAsync()
    {
        subscription.Dispose();
        if (!stop.IsCancellationRequested)
        {
            await stop.CancelAsync();
        }

        // Awaiting a finished task again is harmless, so a second dispose is too.
        await loop;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId}: cancel requested by {Who}")]
        public static partial void CancelNoticed(ILogger logger, long deploymentId, string who);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment {DeploymentId}: lease lost; stopping the deploy without reporting (the reaper or another worker reports it)")]
        public static partial void LeaseLost(ILogger logger, long deploymentId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment {DeploymentId}: could not renew the lease or read the cancel flag")]
        public static partial void WatchFailed(ILogger logger, long deploymentId, Exception exception);
    }
}
