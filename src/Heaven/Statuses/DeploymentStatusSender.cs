using Heaven.GitHub;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Statuses;

/// <summary>
/// Posts the deployment statuses of the outbox to GitHub, one deployment's in order (so in_progress
/// always reaches GitHub before success). The <see cref="WorkItemConsumer"/> claims, retries and
/// records; this says how one status is posted.
/// </summary>
internal sealed partial class DeploymentStatusSender(
    IHeavenDatabase database,
    IGitHub gitHub,
    IOptions<StatusDeliveryOptions> deliveryOptions,
    IOptions<GitHubOptions> gitHubOptions,
    ILogger<DeploymentStatusSender> logger) : IWorkItemHandler
{
    public const string NoTokenMessage = "GitHub:Token is not set";

    private bool reportedNoToken;

    public string Name => "deployment statuses";

    public IReadOnlyList<string> Kinds { get; } = [WorkItemKinds.PostDeploymentStatus];

    public WorkItemOrder Order => WorkItemOrder.OnePerDeployment;

    public StatusDeliveryOptions Delivery => deliveryOptions.Value;

    /// <summary>Without a token nothing can be sent: the items wait, saying why, until Heaven is restarted with one.</summary>
    public async Task<(int Worked, bool Deliver)> BeforeRoundAsync(CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(gitHubOptions.Value.Token))
        {
            return (0, true);
        }

        if (!reportedNoToken)
        {
            reportedNoToken = true;
            Log.NoToken(logger);
        }

        await using var db = await database.OpenAsync(cancellationToken);
        await db.WorkItems
            .Where(w => w.Kind == WorkItemKinds.PostDeploymentStatus && w.State == WorkItemState.Pending && w.LastError != NoTokenMessage)
            .ExecuteUpdateAsync(set => set.SetProperty(w => w.LastError, NoTokenMessage), cancellationToken);
        return (0, false);
    }

    public async Task<WorkItemOutcome> HandleAsync(ClaimedWorkItem item, CancellationToken cancellationToken)
    {
        DeploymentStatusPayload? payload;
        try
        {
            payload = DeploymentStatusPayload.FromJson(item.PayloadJson);
        }
        catch (System.Text.Json.JsonException e)
        {
            payload = null;
            Log.Unreadable(logger, item.Id, e.Message);
        }

        if (payload is null)
        {
            return new WorkItemOutcome.Failed("The stored status could not be read; it was not posted.");
        }

        // The outbox's span for this attempt (WorkItemConsumer) says which status it carries.
        System.Diagnostics.Activity.Current?.SetTag(Heaven.Telemetry.HeavenTracing.GitHubDeploymentIdAttribute, payload.GitHubDeploymentId)
            .SetTag("github.deployment_status.state", OctokitGitHub.StateName(payload.State));
        try
        {
            await gitHub.CreateDeploymentStatusAsync(payload.Repository, payload.GitHubDeploymentId, payload.ToRequest(), cancellationToken);
        }
        catch (GitHubRejectedException e)
        {
            Log.Rejected(logger, item.Id, item.DeploymentId, payload.Repository, e.StatusCode, e.Message);
            return new WorkItemOutcome.Failed(e.Message);
        }
        catch (GitHubTransientException e)
        {
            return new WorkItemOutcome.Retry(e.Message, e.RetryAfter);
        }

        Log.Delivered(logger, item.Id, item.DeploymentId, payload.Repository, payload.GitHubDeploymentId, OctokitGitHub.StateName(payload.State), item.Attempt);
        return WorkItemOutcome.Done;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Posted the {State} status of GitHub deployment {GitHubDeploymentId} of {Repository} (Heaven deployment {DeploymentId}, work item {WorkItemId}, attempt {Attempt})")]
        public static partial void Delivered(ILogger logger, long workItemId, long? deploymentId, string repository, long gitHubDeploymentId, string state, int attempt);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} (Heaven deployment {DeploymentId}): GitHub refused the status for {Repository} with {StatusCode}; it will not be retried: {Error}")]
        public static partial void Rejected(ILogger logger, long workItemId, long? deploymentId, string repository, int statusCode, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} holds a status that cannot be read: {Error}")]
        public static partial void Unreadable(ILogger logger, long workItemId, string error);

        [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub:Token (or GITHUB_TOKEN) is not set: deployment statuses stay queued and are posted once Heaven runs with a token")]
        public static partial void NoToken(ILogger logger);
    }
}
