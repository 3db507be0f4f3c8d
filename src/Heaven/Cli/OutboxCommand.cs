using System.Globalization;
using System.Text.Json;
using Heaven.Statuses;
using Heaven.Storage;
using Heaven.WorkItems;
using Microsoft.EntityFrameworkCore;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven outbox</c>: the newest outbox items (statuses for GitHub, chat messages, commit events
/// for auto-deploy) with what each is about, its attempts and last error, for an operator asking
/// "did Slack get it?".
/// </summary>
internal static class OutboxCommand
{
    public static readonly CliCommand Command = new(
        "outbox",
        "heaven outbox [--problems] [--limit N]",
        "show what Heaven owes GitHub and the chat services: statuses, messages, commit events, with attempts and errors",
        "Each item names what it is about (deployment 12 (gh:345) success \"...\"), whether it is done, due, waiting for a retry or failed for good, and its last error.",
        RunAsync)
    {
        Options =
        [
            CliOption.Flag("--problems", "only items that failed for good or wait for a retry after a failed attempt"),
            CliOption.Number("--limit", "N", "how many items (default 30)"),
        ],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var onlyUnfinished = arguments.Has("--problems");
        var limit = arguments.Number("--limit", 30);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var database = app.Services.GetRequiredService<IHeavenDatabase>();
        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        await using var db = await database.OpenAsync(cancellationToken);
        var query = db.WorkItems.AsNoTracking();
        if (onlyUnfinished)
        {
            // Failed for good, or waiting for a retry after at least one failed attempt.
            query = query.Where(w => w.State == WorkItemState.Failed || (w.State == WorkItemState.Pending && w.LastError != null));
        }

        var rows = await query.OrderByDescending(w => w.Id).Take(limit).ToListAsync(cancellationToken);
        if (rows.Count == 0)
        {
            output.WriteLine(onlyUnfinished ? "Nothing failed or waiting for a retry." : "The outbox is empty.");
            return 0;
        }

        var subjects = rows.ToDictionary(r => r.Id, Subject.Of);
        // Events from GitHub name GitHub's deployment id only: Heaven's id comes from the deployments table.
        var gitHubIds = subjects.Values.Select(s => s.GitHubDeploymentId).OfType<long>().Distinct().ToList();
        var heavenIds = (await db.Deployments.AsNoTracking()
                .Where(d => gitHubIds.Contains(d.GitHubDeploymentId))
                .Select(d => new { d.Repository, d.GitHubDeploymentId, d.Id })
                .ToListAsync(cancellationToken))
            .ToDictionary(d => (d.Repository.ToLowerInvariant(), d.GitHubDeploymentId), d => d.Id);

        var table = new TableWriter("ID", "CREATED (UTC)", "KIND", "REPOSITORY", "STATE", "ATTEMPTS", "ABOUT", "NEXT / LAST ERROR");
        foreach (var row in rows)
        {
            var state = row.State switch
            {
                WorkItemState.Done => "done",
                WorkItemState.Failed => "failed",
                _ => row.NotBefore > now ? "waiting" : "due",
            };
            var next = row.State == WorkItemState.Pending && row.NotBefore > now
                ? string.Create(CultureInfo.InvariantCulture, $"next attempt {row.NotBefore:HH:mm:ss}Z")
                : "";
            var detail = string.Join("; ", new[] { next, row.LastError ?? "" }.Where(t => t.Length > 0));
            var subject = subjects[row.Id];
            var heavenId = row.DeploymentId
                ?? (subject.GitHubDeploymentId is { } gh && row.Repository is { } repository && heavenIds.TryGetValue((repository.ToLowerInvariant(), gh), out var found) ? found : null);
            table.Add(
                row.Id.ToString(CultureInfo.InvariantCulture),
                row.CreatedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                row.Kind,
                row.Repository ?? "-",
                state,
                row.Attempts.ToString(CultureInfo.InvariantCulture),
                subject.Describe(heavenId),
                detail);
        }

        table.WriteTo(output);
        return 0;
    }

    /// <summary>What an item carries, read from its payload: the deployment and the state it reports, or the commit.</summary>
    internal sealed record Subject(long? GitHubDeploymentId, string? State, string? Description, string? Commit)
    {
        private static readonly Subject Unknown = new(null, null, null, null);

        public static Subject Of(WorkItem item)
        {
            try
            {
                if (item.Kind == WorkItemKinds.PostDeploymentStatus)
                {
                    return DeploymentStatusPayload.FromJson(item.PayloadJson) is { } status
                        ? new Subject(status.GitHubDeploymentId, Heaven.GitHub.OctokitGitHub.StateName(status.State), status.Description, null)
                        : Unknown;
                }

                using var json = JsonDocument.Parse(item.PayloadJson);
                var root = json.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return Unknown;
                }

                if (root.TryGetProperty("deployment", out var deployment) && deployment.ValueKind == JsonValueKind.Object)
                {
                    // A deployment_status event, or a chat message made from one.
                    var status = root.TryGetProperty("deployment_status", out var s) && s.ValueKind == JsonValueKind.Object ? s : default;
                    return new Subject(
                        deployment.TryGetProperty("id", out var id) && id.TryGetInt64(out var gh) ? gh : null,
                        StringOf(status, "state"),
                        StringOf(status, "description"),
                        null);
                }

                // A commit status or check suite, for auto-deploy.
                var suite = root.TryGetProperty("check_suite", out var found) ? found : default;
                var sha = StringOf(root, "sha") ?? StringOf(suite, "head_sha");
                var outcome = StringOf(root, "state") ?? StringOf(suite, "conclusion") ?? StringOf(suite, "status");
                var context = StringOf(root, "context");
                return new Subject(null, outcome, context, sha);
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
            {
                return Unknown;
            }
        }

        public string Describe(long? heavenId)
        {
            var parts = new List<string>();
            if (GitHubDeploymentId is { } gh)
            {
                parts.Add(heavenId is { } id
                    ? string.Create(CultureInfo.InvariantCulture, $"deployment {id} (gh:{gh})")
                    : string.Create(CultureInfo.InvariantCulture, $"deployment gh:{gh}"));
            }
            else if (Commit is { Length: > 0 } commit)
            {
                parts.Add($"commit {commit[..Math.Min(7, commit.Length)]}");
            }

            if (State is { Length: > 0 })
            {
                parts.Add(State);
            }

            if (Description is { Length: > 0 })
            {
                parts.Add($"\"{Description}\"");
            }

            return parts.Count == 0 ? "-" : string.Join(' ', parts);
        }

        private static string? StringOf(JsonElement element, string name) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
    }
}
