using Heaven.GitHub;
using Heaven.Model;
using Heaven.Output;
using Heaven.Providers;
using Heaven.Storage;
using Heaven.Telemetry;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>
/// Runs one claimed deployment: reports it started, checks out the commit, runs the provider under
/// the timeout and the cancel flag, keeps the output, and reports the outcome. The final state is
/// decided here and nowhere else.
/// </summary>
internal sealed partial class DeploymentRunner(
    DeploymentQueue queue,
    DeployPipeline pipeline,
    IDeploymentOutputFactory outputs,
    ILogLinks links,
    ClusterSignals cluster,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    HeavenMetrics metrics,
    ILogger<DeploymentRunner> logger)
{
    /// <param name="stopping">The host is stopping now: the deploy ends as "not finished".</param>
    /// <param name="shutDown">Heaven's graceful stop ran out of time: the deploy is cancelled as by a cancel request and ends "Cancelled: Heaven was shut down".</param>
    public async Task RunAsync(ClaimedDeployment claim, CancellationToken stopping, CancellationToken shutDown)
    {
        var deployment = claim.Deployment;
        // Every line logged while it runs, from any component, names the deployment (JSON logs: "Scopes").
        using var logScope = logger.BeginScope("Deployment {DeploymentId} of {Repository}", deployment.Id, deployment.Repository);
        var receivedAt = new DateTimeOffset(DateTime.SpecifyKind(deployment.ReceivedAt, DateTimeKind.Utc));
        // The wait is over by now: its span runs from the intake to this claim, beside the run's.
        HeavenTracing.StartChildOf(HeavenTracing.QueueWaitSpan, deployment.TraceParent, startTime: receivedAt)?.Dispose();
        using var span = HeavenTracing.StartChildOf(HeavenTracing.DeploymentSpan, deployment.TraceParent);
        span?.SetTag(HeavenTracing.DeploymentIdAttribute, deployment.Id)
            .SetTag(HeavenTracing.GitHubDeploymentIdAttribute, deployment.GitHubDeploymentId)
            .SetTag(HeavenTracing.DeliveryIdAttribute, deployment.DeliveryId)
            .SetTag(HeavenTracing.RepositoryAttribute, deployment.Repository)
            .SetTag(HeavenTracing.EnvironmentAttribute, deployment.Environment)
            .SetTag(HeavenTracing.ProviderAttribute, deployment.Provider);
        metrics.DeploymentStarted();
        try
        {
            await RunClaimedAsync(claim, span, stopping, shutDown);
        }
        finally
        {
            metrics.DeploymentEnded();
        }
    }

    private async Task RunClaimedAsync(ClaimedDeployment claim, System.Diagnostics.Activity? span, CancellationToken stopping, CancellationToken shutDown)
    {
        var deployment = claim.Deployment;
        var started = time.GetTimestamp();
        var settings = options.Value;
        var environmentUrl = DeployPipeline.EnvironmentUrl(deployment);
        // The steps before the deploy are short and not cut by a shutdown's cancel, so a deploy
        // cancelled that early still reports how it ended.
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping, shutDown);
        Log.Started(logger, deployment.Id, deployment.Repository, deployment.Environment, deployment.Provider ?? "-");

        var ownLogUrl = await links.LogUrlAsync(deployment.Id, stopping);
        await using var output = await outputs.StartAsync(deployment, waitForGist: ownLogUrl is null, stopping);
        if (output.Gist is { } gist)
        {
            await queue.RecordGistAsync(claim, gist, stopping);
        }

        var logUrl = ownLogUrl ?? output.Gist?.HtmlUrl;
        var startState = settings.UsePendingState ? GitHubDeploymentState.Pending : GitHubDeploymentState.InProgress;
        await queue.ReportAsync(claim, new DeploymentStatusRequest(startState, StatusTexts.Deploying(deployment), logUrl, environmentUrl, deployment.Environment), stopping);

        ProviderOutcome outcome;
        await using (var watch = new LeaseWatch(queue, claim, run, time, TimeSpan.FromSeconds(settings.LeaseSeconds), settings.CancelPollInterval, cluster, logger))
        {
            outcome = await pipeline.RunAsync(deployment, output, output.Masker, logUrl, TimeSpan.FromSeconds(settings.Timeout), run.Token);
            await watch.DisposeAsync();
            if (watch.LeaseLost)
            {
                await output.WriteLineAsync(OutputStream.Heaven, "Heaven lost this deployment's lease; its outcome is not reported from here.", CancellationToken.None);
                await output.CompleteAsync(CancellationToken.None);
                return;
            }

            if (watch.CancelledBy is { } who)
            {
                outcome = new ProviderOutcome(DeployResult.Cancelled, StatusTexts.CancelledBy(who));
            }
            else if (shutDown.IsCancellationRequested && !stopping.IsCancellationRequested && outcome.Result == DeployResult.Cancelled)
            {
                // A deploy that ended by itself as the cancel came keeps its own outcome.
                outcome = new ProviderOutcome(DeployResult.Cancelled, StatusTexts.CancelledByShutdown);
            }
            else if (stopping.IsCancellationRequested)
            {
                outcome = ProviderOutcome.Error("Heaven was stopped while this deployment ran; it was not finished");
            }
        }

        var took = time.GetElapsedTime(started);
        var (state, gitHubState, description) = DeployPipeline.Conclude(deployment, outcome, took);
        await output.WriteLineAsync(OutputStream.Heaven, $"{state}: {description}", CancellationToken.None);
        // The log is complete before GitHub hears the outcome, so the link shows the whole story.
        await output.CompleteAsync(CancellationToken.None);
        if (output.Gist is { } lateGist && lateGist.Id != deployment.GistId)
        {
            // Created after the first status (GitHub was slow): still worth keeping.
            await queue.RecordGistAsync(claim, lateGist, CancellationToken.None);
        }

        var finished = await queue.FinishAsync(claim, state, new DeploymentStatusRequest(gitHubState, description, logUrl, environmentUrl, deployment.Environment), CancellationToken.None);
        Log.Finished(logger, deployment.Id, finished ? state.ToString() : "not recorded (lease lost)", description);
        if (finished)
        {
            var metricState = state == DeploymentState.Cancelled ? "cancelled" : OctokitGitHub.StateName(gitHubState);
            metrics.DeploymentFinished(metricState, deployment.Provider, took);
            span?.SetTag(HeavenTracing.StateAttribute, metricState);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} of {Repository} to {Environment} started with provider {Provider}")]
        public static partial void Started(ILogger logger, long deploymentId, string repository, string environment, string provider);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} finished: {State}: {Description}")]
        public static partial void Finished(ILogger logger, long deploymentId, string state, string description);
    }
}
