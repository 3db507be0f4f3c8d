using Heaven.GitHub;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Statuses;

/// <summary>
/// Delivers the status outbox to GitHub. One loop: take the due items, oldest first, at most the
/// first pending one of each deployment (so in_progress always reaches GitHub before success); for
/// each, claim it, send it, and record the outcome. It runs when woken and on a short poll, which
/// picks up retries that became due and items an earlier run or another node left behind.
/// </summary>
/// <remarks>
/// The claim is a lease: NotBefore moves past the send's duration and Attempts grows by one, in one
/// conditional UPDATE, so of several nodes exactly one wins the item; Attempts doubles as the fencing
/// token for the final write. A node that dies mid-send leaves the lease to expire, and the status is
/// sent again then (GitHub keeps both; a duplicate status beats a lost one).
/// </remarks>
internal sealed partial class DeploymentStatusSender(
    IHeavenDatabase database,
    IGitHub gitHub,
    WorkItemSignal signal,
    IOptions<StatusDeliveryOptions> deliveryOptions,
    IOptions<GitHubOptions> gitHubOptions,
    Heaven.Configuration.NodeIdentity node,
    TimeProvider time,
    ILogger<DeploymentStatusSender> logger) : BackgroundService
{
    public const string NoTokenMessage = "GitHub:Token is not set";
    private const int BatchSize = 50;

    private readonly StatusDeliveryOptions options = deliveryOptions.Value;
    private bool reportedNoToken;

    // Items stay pending through a failed round; one sent status may make the next of its deployment due.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WorkItemLoop.RunAsync(
            cancellationToken => WorkItemLease.ReleaseLeftoverLeasesAsync(database, node.Id, node.LeaseOwner, time, logger, cancellationToken),
            DeliverDueAsync,
            cancellationToken => signal.WaitAsync(WorkItemKinds.PostDeploymentStatus, options.PollInterval, cancellationToken),
            e => Log.LoopFailed(logger, e),
            stoppingToken);

    /// <summary>Sends what is due; returns how many items it tried.</summary>
    private async Task<int> DeliverDueAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(gitHubOptions.Value.Token))
        {
            await ParkWithoutTokenAsync(cancellationToken);
            return 0;
        }

        var now = time.GetUtcNow().UtcDateTime;
        List<Candidate> due;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            var pending = db.WorkItems.Where(w => w.Kind == WorkItemKinds.PostDeploymentStatus && w.State == WorkItemState.Pending);
            due = await pending
                .Where(w => w.NotBefore <= now)
                // Head of line: an earlier status of the same deployment still pending (waiting for a
                // retry, or being sent by another node) holds the later ones back.
                .Where(w => !pending.Any(earlier => earlier.DeploymentId == w.DeploymentId && earlier.Id < w.Id))
                .OrderBy(w => w.Id)
                .Take(BatchSize)
                .Select(w => new Candidate(w.Id, w.DeploymentId, w.Attempts, w.CreatedAt, w.PayloadJson))
                .ToListAsync(cancellationToken);
        }

        var attempted = 0;
        foreach (var item in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await TryClaimAsync(item, cancellationToken))
            {
                attempted++;
                await SendAsync(item, cancellationToken);
            }
        }

        return attempted;
    }

    private Task<bool> TryClaimAsync(Candidate item, CancellationToken cancellationToken) =>
        WorkItemLease.TryClaimAsync(database, item.Id, item.Attempts, options.Lease, node.LeaseOwner, time, cancellationToken);

    private async Task SendAsync(Candidate item, CancellationToken cancellationToken)
    {
        var attempt = item.Attempts + 1;
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
            await FinishAsync(item, attempt, WorkItemState.Failed, "The stored status could not be read; it was not posted.");
            return;
        }

        try
        {
            await gitHub.CreateDeploymentStatusAsync(payload.Repository, payload.GitHubDeploymentId, payload.ToRequest(), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-send: hand the item back at once instead of leaving it leased, so the
            // next run (or another node) sends it without waiting for the lease to run out.
            await ReleaseAsync(item, attempt);
            throw;
        }
        catch (GitHubRejectedException e)
        {
            Log.Rejected(logger, item.Id, item.DeploymentId, payload.Repository, e.StatusCode, e.Message);
            await FinishAsync(item, attempt, WorkItemState.Failed, e.Message);
            return;
        }
        catch (Exception e)
        {
            // Transient by GitHub's word, or something unexpected: either way worth another try later.
            var retryAfter = (e as GitHubTransientException)?.RetryAfter;
            if (e is not GitHubTransientException)
            {
                Log.Unexpected(logger, item.Id, e);
            }

            await RetryLaterAsync(item, attempt, retryAfter, e is GitHubTransientException ? e.Message : $"{e.GetType().Name}: {e.Message}");
            return;
        }

        Log.Delivered(logger, item.Id, item.DeploymentId, payload.Repository, payload.GitHubDeploymentId, OctokitGitHub.StateName(payload.State), attempt);
        await FinishAsync(item, attempt, WorkItemState.Done, null);
    }

    private async Task RetryLaterAsync(Candidate item, int attempt, TimeSpan? retryAfter, string error)
    {
        var delay = options.RetryDelay(attempt, retryAfter);
        var outcome = await WorkItemLease.RetryOrGiveUpAsync(database, item.Id, attempt, item.CreatedAt, options.GiveUpAfter, delay, error, time);
        if (outcome.GaveUp)
        {
            Log.GaveUp(logger, item.Id, item.DeploymentId, attempt, error);
        }
        else
        {
            Log.Retrying(logger, item.Id, item.DeploymentId, attempt, delay, error);
        }

        if (!outcome.Recorded)
        {
            Log.LeaseLost(logger, item.Id);
        }
    }

    /// <summary>Records an outcome unless another node took the item over meanwhile (see <see cref="WorkItemLease.WriteAsync"/>).</summary>
    private async Task FinishAsync(Candidate item, int attempt, WorkItemState state, string? error)
    {
        if (!await WorkItemLease.FinishAsync(database, item.Id, attempt, state, error, time))
        {
            Log.LeaseLost(logger, item.Id);
        }
    }

    private async Task ReleaseAsync(Candidate item, int attempt)
    {
        if (!await WorkItemLease.ReleaseAsync(database, item.Id, attempt, time))
        {
            Log.LeaseLost(logger, item.Id);
        }
    }

    /// <summary>Without a token nothing can be sent: the items wait, saying why, until Heaven is restarted with one.</summary>
    private async Task ParkWithoutTokenAsync(CancellationToken cancellationToken)
    {
        if (!reportedNoToken)
        {
            reportedNoToken = true;
            Log.NoToken(logger);
        }

        await using var db = await database.OpenAsync(cancellationToken);
        await db.WorkItems
            .Where(w => w.Kind == WorkItemKinds.PostDeploymentStatus && w.State == WorkItemState.Pending && w.LastError != NoTokenMessage)
            .ExecuteUpdateAsync(set => set.SetProperty(w => w.LastError, NoTokenMessage), cancellationToken);
    }

    private sealed record Candidate(long Id, long? DeploymentId, int Attempts, DateTime CreatedAt, string PayloadJson);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Posted the {State} status of GitHub deployment {GitHubDeploymentId} of {Repository} (Heaven deployment {DeploymentId}, work item {WorkItemId}, attempt {Attempt})")]
        public static partial void Delivered(ILogger logger, long workItemId, long? deploymentId, string repository, long gitHubDeploymentId, string state, int attempt);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Work item {WorkItemId} (Heaven deployment {DeploymentId}): attempt {Attempt} failed, retrying in {Delay}: {Error}")]
        public static partial void Retrying(ILogger logger, long workItemId, long? deploymentId, int attempt, TimeSpan delay, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} (Heaven deployment {DeploymentId}): GitHub refused the status for {Repository} with {StatusCode}; it will not be retried: {Error}")]
        public static partial void Rejected(ILogger logger, long workItemId, long? deploymentId, string repository, int statusCode, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} (Heaven deployment {DeploymentId}): gave up after {Attempt} attempts: {Error}")]
        public static partial void GaveUp(ILogger logger, long workItemId, long? deploymentId, int attempt, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId} holds a status that cannot be read: {Error}")]
        public static partial void Unreadable(ILogger logger, long workItemId, string error);

        [LoggerMessage(Level = LogLevel.Error, Message = "Work item {WorkItemId}: unexpected failure while posting a status; it will be retried")]
        public static partial void Unexpected(ILogger logger, long workItemId, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Work item {WorkItemId} was taken over by another node while this one was sending it; its outcome stands")]
        public static partial void LeaseLost(ILogger logger, long workItemId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub:Token (or GITHUB_TOKEN) is not set: deployment statuses stay queued and are posted once Heaven runs with a token")]
        public static partial void NoToken(ILogger logger);

        [LoggerMessage(Level = LogLevel.Error, Message = "The deployment status sender failed; it tries again shortly")]
        public static partial void LoopFailed(ILogger logger, Exception exception);
    }
}
