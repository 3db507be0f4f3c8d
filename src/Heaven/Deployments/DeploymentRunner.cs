using System.Text.Json.Nodes;
using Heaven.Checkout;
using Heaven.GitHub;
using Heaven.Output;
using Heaven.Providers;
using Microsoft.Extensions.Options;

namespace Heaven.Deployments;

/// <summary>Makes log links for statuses: Heaven's own signed log page when Heaven:PublicUrl is set.</summary>
public interface ILogLinks
{
    /// <summary>Null when Heaven has no public address (the gist is the log link then).</summary>
    Task<string?> LogUrlAsync(long deploymentId, CancellationToken cancellationToken);
}

/// <summary>
/// Runs one claimed deployment: reports it started, checks out the commit, runs the provider under
/// the timeout and the cancel flag, keeps the output, and reports the outcome. The final state is
/// decided here and nowhere else.
/// </summary>
public sealed partial class DeploymentRunner(
    DeploymentQueue queue,
    ICheckout checkout,
    ProviderRegistry providers,
    IDeploymentOutputFactory outputs,
    ILogLinks links,
    TimeProvider time,
    IOptions<DeploymentOptions> options,
    ILogger<DeploymentRunner> logger)
{
    public async Task RunAsync(ClaimedDeployment claim, CancellationToken stopping)
    {
        var deployment = claim.Deployment;
        var started = time.GetTimestamp();
        var settings = options.Value;
        var timeout = TimeSpan.FromSeconds(settings.Timeout);
        var payload = ProviderRegistry.PayloadOf(deployment.PayloadJson);
        var environmentUrl = EnvironmentUrl(payload, deployment.Environment);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        Log.Started(logger, deployment.Id, deployment.Repository, deployment.Environment, deployment.Provider ?? "-");

        await using var output = await outputs.StartAsync(deployment, run.Token);
        if (output.Gist is { } gist)
        {
            await queue.RecordGistAsync(claim, gist, run.Token);
        }

        var logUrl = await links.LogUrlAsync(deployment.Id, run.Token) ?? output.Gist?.HtmlUrl;
        var startState = settings.UsePendingState ? GitHubDeploymentState.Pending : GitHubDeploymentState.InProgress;
        await queue.ReportAsync(claim, new DeploymentStatusRequest(startState, StatusTexts.Deploying(deployment), logUrl, environmentUrl, deployment.Environment), run.Token);

        ProviderOutcome outcome;
        await using (var watch = new LeaseWatch(queue, claim, run, time, TimeSpan.FromSeconds(settings.LeaseSeconds), logger))
        {
            outcome = await DeployAsync(deployment, payload, output, logUrl, timeout, run.Token);
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
            else if (stopping.IsCancellationRequested)
            {
                outcome = ProviderOutcome.Error("Heaven was stopped while this deployment ran; it was not finished");
            }
        }

        var (state, gitHubState) = outcome.Result switch
        {
            DeployResult.Success => (DeploymentState.Succeeded, GitHubDeploymentState.Success),
            DeployResult.Failure => (DeploymentState.Failed, GitHubDeploymentState.Failure),
            DeployResult.Cancelled => (DeploymentState.Cancelled, GitHubDeploymentState.Error),
            _ => (DeploymentState.Errored, GitHubDeploymentState.Error),
        };
        var description = outcome.Result == DeployResult.Success
            ? StatusTexts.Deployed(deployment, time.GetElapsedTime(started))
            : outcome.Description;

        await output.WriteLineAsync(OutputStream.Heaven, $"{state}: {description}", CancellationToken.None);
        // The log is complete before GitHub hears the outcome, so the link shows the whole story.
        await output.CompleteAsync(CancellationToken.None);
        var finished = await queue.FinishAsync(claim, state, new DeploymentStatusRequest(gitHubState, description, logUrl, environmentUrl, deployment.Environment), CancellationToken.None);
        Log.Finished(logger, deployment.Id, finished ? state.ToString() : "not recorded (lease lost)", description);
    }

    private async Task<ProviderOutcome> DeployAsync(DeploymentRecord deployment, JsonObject payload, IDeploymentOutput output, string? logUrl, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await output.WriteLineAsync(OutputStream.Heaven, $"Heaven deployment {deployment.Id}: {deployment.Repository} {deployment.Ref} ({deployment.Sha}) to {deployment.Environment}, task {deployment.Task}, provider {deployment.Provider}", cancellationToken);
            await using var worktree = await checkout.PrepareAsync(
                new CheckoutRequest(deployment.Repository, deployment.CloneUrl, deployment.Ref, deployment.Sha, deployment.Id), output, cancellationToken);
            var provider = providers.Find(deployment.Provider)
                ?? throw new InvalidOperationException($"provider '{deployment.Provider}' disappeared after the deployment was admitted");
            return await provider.DeployAsync(new DeployContext(deployment, payload, worktree.Path, output, output.Masker, logUrl, timeout), cancellationToken);
        }
        catch (CheckoutException e)
        {
            return ProviderOutcome.Error(e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new ProviderOutcome(DeployResult.Cancelled, "Cancelled");
        }
        catch (Exception e)
        {
            Log.Crashed(logger, deployment.Id, e);
            return ProviderOutcome.Error($"Heaven failed while deploying ({e.GetType().Name}); see Heaven's log");
        }
    }

    private static string? EnvironmentUrl(JsonObject payload, string environment) =>
        payload["config"] is JsonObject config && config[$"{environment}_url"] is JsonValue value && value.TryGetValue<string>(out var url)
            && Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https"
            ? url
            : null;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} of {Repository} to {Environment} started with provider {Provider}")]
        public static partial void Started(ILogger logger, long deploymentId, string repository, string environment, string provider);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {DeploymentId} finished: {State}: {Description}")]
        public static partial void Finished(ILogger logger, long deploymentId, string state, string description);

        [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} failed inside Heaven")]
        public static partial void Crashed(ILogger logger, long deploymentId, Exception exception);
    }
}
