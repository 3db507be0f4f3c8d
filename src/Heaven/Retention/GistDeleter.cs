using System.Text.Json.Nodes;
using Heaven.GitHub;
using Heaven.WorkItems;
using Microsoft.Extensions.Options;

namespace Heaven.Retention;

/// <summary>
/// Deletes, through the outbox, the gists of logs removed by retention (<see cref="RetentionOptions.DeleteGists"/>):
/// GitHub being away delays a deletion, never the clean-up or a deploy; a gist already gone counts as deleted.
/// </summary>
internal sealed class GistDeleter(IGitHub gitHub, IOptions<StatusDeliveryOptions> delivery) : IWorkItemHandler
{
    public const string Kind = "delete_gist";

    public string Name => "gist deletions";

    public IReadOnlyList<string> Kinds { get; } = [Kind];

    public WorkItemOrder Order => WorkItemOrder.Oldest;

    public StatusDeliveryOptions Delivery => delivery.Value;

    public static string Payload(string gistId) => new JsonObject { ["gist_id"] = gistId }.ToJsonString();

    public async Task<WorkItemOutcome> HandleAsync(ClaimedWorkItem item, CancellationToken cancellationToken)
    {
        if (JsonNode.Parse(item.PayloadJson)?["gist_id"]?.GetValue<string>() is not { Length: > 0 } gistId)
        {
            return new WorkItemOutcome.Failed("the item names no gist");
        }

        try
        {
            await gitHub.DeleteGistAsync(gistId, cancellationToken);
            return WorkItemOutcome.Done;
        }
        catch (GitHubTransientException e)
        {
            return new WorkItemOutcome.Retry(e.Message, e.RetryAfter);
        }
        catch (GitHubRejectedException e) when (e.StatusCode is 401 or 403)
        {
            // The token may change (a new one with the gist scope): worth trying again later.
            return new WorkItemOutcome.Retry(e.Message);
        }
        catch (GitHubRejectedException e)
        {
            return new WorkItemOutcome.Failed(e.Message);
        }
    }
}
