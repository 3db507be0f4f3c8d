using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.WorkItems;

namespace Heaven.AutoDeploy;

/// <summary>
/// A <c>status</c> or <c>check_suite</c> event, reduced to what auto-deploy asks of it: which commit,
/// whether it is the head of the default branch, and whether it could have made the commit green.
/// </summary>
/// <param name="Trigger">The event in words, kept with each decision: "status ci/test success".</param>
/// <param name="OnDefaultBranch">The commit is the default branch's head, as the event tells.</param>
/// <param name="StatusContext">For a <c>status</c> event: its context; null for a check suite.</param>
/// <param name="StatusState">For a <c>status</c> event: its state (success, pending, failure, error).</param>
public sealed record CommitEvent(
    string Repository,
    string Sha,
    string DefaultBranch,
    bool OnDefaultBranch,
    string Trigger,
    string? StatusContext,
    string? StatusState)
{
    public string ShortSha => Heaven.Model.CommitSha.Abbreviated(Sha);

    /// <summary>
    /// Reads a recorded event. Null when the event is nothing auto-deploy acts on (a check suite that
    /// was requested rather than completed).
    /// </summary>
    /// <exception cref="FormatException">The payload lacks what GitHub always sends.</exception>
    public static CommitEvent? From(string kind, string payloadJson)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(payloadJson) as JsonObject ?? throw new FormatException("The event is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new FormatException($"The event is not JSON: {e.Message}", e);
        }

        var repository = root["repository"] as JsonObject ?? throw new FormatException("The event has no repository.");
        var fullName = Str(repository["full_name"]) ?? throw new FormatException("The event has no repository.full_name.");
        // GitHub's payloads before 2014 said master_branch; the original's fixtures still do.
        var defaultBranch = Str(repository["default_branch"]) ?? Str(repository["master_branch"]) ?? "main";

        if (kind == WorkItemKinds.CommitStatusEvent)
        {
            var sha = Str(root["sha"]) ?? throw new FormatException("The status event has no sha.");
            var context = Str(root["context"]) ?? "default";
            var state = Str(root["state"]) ?? throw new FormatException("The status event has no state.");
            // "branches" lists the branches whose head is this commit: on the default branch's
            // head, it names the default branch.
            var onDefault = root["branches"] is JsonArray branches && branches.OfType<JsonObject>().Any(b =>
                string.Equals(Str(b["name"]), defaultBranch, StringComparison.Ordinal)
                && (Str(b["commit"]?["sha"]) is not { } head || string.Equals(head, sha, StringComparison.OrdinalIgnoreCase)));
            return new CommitEvent(fullName, sha, defaultBranch, onDefault, $"status {context} {state}", context, state);
        }

        if (kind == WorkItemKinds.CheckSuiteEvent)
        {
            if (!string.Equals(Str(root["action"]), "completed", StringComparison.Ordinal))
            {
                return null;
            }

            var suite = root["check_suite"] as JsonObject ?? throw new FormatException("The check_suite event has no check_suite.");
            var sha = Str(suite["head_sha"]) ?? throw new FormatException("The check_suite event has no check_suite.head_sha.");
            var app = Str(suite["app"]?["slug"]) ?? Str(suite["app"]?["name"]);
            var conclusion = Str(suite["conclusion"]) ?? "unknown";
            var onDefault = string.Equals(Str(suite["head_branch"]), defaultBranch, StringComparison.Ordinal);
            return new CommitEvent(fullName, sha, defaultBranch, onDefault, $"check_suite{(app is null ? "" : " " + app)} completed {conclusion}", null, null);
        }

        throw new FormatException($"'{kind}' is not an event auto-deploy reads.");
    }

    private static string? Str(JsonNode? node) => Heaven.GitHub.GitHubJson.Text(node);
}
