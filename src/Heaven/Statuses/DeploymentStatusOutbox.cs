using System.Text.Json;
using System.Text.Json.Serialization;
using Heaven.GitHub;
using Heaven.Model;
using Heaven.Storage;
using Heaven.WorkItems;

namespace Heaven.Statuses;

/// <summary>
/// Posts deployment statuses through a durable outbox: a status is a work item first and reaches
/// GitHub afterwards, retried with backoff while GitHub is slow, down or rate-limiting, also across
/// a restart. The statuses of one deployment reach GitHub in the order they were enqueued.
/// </summary>
/// <remarks>
/// The one way a status description leaves Heaven: whoever enqueues it (the runner, the queue, the
/// admission, the locks), it is masked with the server's masker and then cut to GitHub's 140
/// characters, in that order, so no piece of a secret survives the cut.
/// </remarks>
public interface IDeploymentStatusPoster
{
    /// <summary>
    /// Adds the status to <paramref name="db"/> without saving, so it commits in the same transaction
    /// as the state change it reports (no status without the change, no change without its status).
    /// Call <see cref="Wake"/> after the commit. Returns the status as GitHub will get it (masked, cut to 140 characters).
    /// </summary>
    Task<DeploymentStatusRequest> EnqueueAsync(HeavenDbContext db, long heavenDeploymentId, string repository, long gitHubDeploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken);

    /// <summary>Tells the sender there is new work, so a status goes out at once rather than at the next poll.</summary>
    void Wake();

    /// <summary>Enqueues, commits and wakes: for a status that goes with no other database change.</summary>
    Task PostAsync(long heavenDeploymentId, string repository, long gitHubDeploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken);
}

/// <summary>What a <see cref="WorkItemKinds.PostDeploymentStatus"/> item asks for, as stored in its PayloadJson.</summary>
internal sealed record DeploymentStatusPayload(
    string Repository,
    long GitHubDeploymentId,
    GitHubDeploymentState State,
    string Description,
    string? LogUrl,
    string? EnvironmentUrl,
    string? Environment)
{
    /// <summary>snake_case and GitHub's state names, so a row reads like the request it becomes.</summary>
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter<GitHubDeploymentState>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DeploymentStatusPayload? FromJson(string json) => JsonSerializer.Deserialize<DeploymentStatusPayload>(json, Json);

    public DeploymentStatusRequest ToRequest() => new(State, Description, LogUrl, EnvironmentUrl, Environment);
}

internal sealed class DeploymentStatusPoster(IHeavenDatabase database, WorkItemSignal signal, ISecretMasker masker, TimeProvider time) : IDeploymentStatusPoster
{
    public Task<DeploymentStatusRequest> EnqueueAsync(HeavenDbContext db, long heavenDeploymentId, string repository, long gitHubDeploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(status);
        // A malformed name would fail on every attempt for a day; refuse it while the caller can still see why.
        _ = OctokitGitHub.SplitRepository(repository);
        cancellationToken.ThrowIfCancellationRequested();

        // Masked before it is cut: cut first, a secret across the 140th character would keep its first half.
        status = status with { Description = OctokitGitHub.ClampDescription(masker.Mask(status.Description)) };
        var now = time.GetUtcNow().UtcDateTime;
        db.WorkItems.Add(new WorkItem
        {
            Kind = WorkItemKinds.PostDeploymentStatus,
            Repository = repository,
            DeploymentId = heavenDeploymentId,
            PayloadJson = new DeploymentStatusPayload(repository, gitHubDeploymentId, status.State, status.Description, status.LogUrl, status.EnvironmentUrl, status.Environment).ToJson(),
            CreatedAt = now,
            NotBefore = now,
        });
        return Task.FromResult(status);
    }

    public void Wake() => signal.Wake(WorkItemKinds.PostDeploymentStatus);

    public async Task PostAsync(long heavenDeploymentId, string repository, long gitHubDeploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken)
    {
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            await EnqueueAsync(db, heavenDeploymentId, repository, gitHubDeploymentId, status, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
        }

        Wake();
    }
}
