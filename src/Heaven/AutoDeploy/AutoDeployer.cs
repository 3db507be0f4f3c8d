using Heaven.GitHub;
using Heaven.Repositories;
using Heaven.WorkItems;
using Microsoft.Extensions.Options;

namespace Heaven.AutoDeploy;

/// <summary>
/// Evaluates the recorded <c>status</c> and <c>check_suite</c> events, oldest first, for the
/// repository's auto-deploy environments; the <see cref="WorkItemConsumer"/> claims them and retries
/// with back-off while GitHub cannot answer. Repositories without <c>AutoDeploy</c> settings cost
/// one read of the settings: their events are closed at once.
/// </summary>
internal sealed partial class AutoDeployer(
    AutoDeployEvaluator evaluator,
    IOptions<RepositoryOptions> repositories,
    IOptions<AutoDeployOptions> autoDeployOptions,
    ILogger<AutoDeployer> logger) : IWorkItemHandler
{
    public string Name => "auto-deploy";

    // Woken by the intake the moment an event is recorded; the poll finds what other nodes recorded
    // and retries that became due.
    public IReadOnlyList<string> Kinds { get; } = [WorkItemKinds.CommitStatusEvent, WorkItemKinds.CheckSuiteEvent];

    public WorkItemOrder Order => WorkItemOrder.Oldest;

    public StatusDeliveryOptions Delivery => autoDeployOptions.Value.Delivery;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var configured = repositories.Value.Repositories.Where(r => r.AutoDeploy is not null).Select(r => $"{r.Repository} → {string.Join(", ", r.AutoDeploy!.Environments)}").ToList();
        Log.Active(logger, configured.Count == 0 ? "none" : string.Join("; ", configured));
        return Task.CompletedTask;
    }

    public async Task<WorkItemOutcome> HandleAsync(ClaimedWorkItem item, CancellationToken cancellationToken)
    {
        CommitEvent? commit;
        try
        {
            commit = CommitEvent.From(item.Kind, item.PayloadJson);
        }
        catch (FormatException e)
        {
            Log.Unreadable(logger, item.Id, e.Message);
            return new WorkItemOutcome.Failed("The event could not be read: " + e.Message);
        }

        var settings = commit is null ? null : repositories.Value.For(commit.Repository)?.AutoDeploy;
        if (commit is null || settings is null)
        {
            return WorkItemOutcome.Done;
        }

        try
        {
            await evaluator.EvaluateAsync(commit, settings, item.DeliveryId, cancellationToken);
        }
        catch (GitHubTransientException e)
        {
            return new WorkItemOutcome.Retry(e.Message, e.RetryAfter);
        }

        return WorkItemOutcome.Done;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Auto-deploy is on for: {Repositories}")]
        public static partial void Active(ILogger logger, string repositories);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} holds a commit event that cannot be read: {Error}")]
        public static partial void Unreadable(ILogger logger, long workItemId, string error);
    }
}
