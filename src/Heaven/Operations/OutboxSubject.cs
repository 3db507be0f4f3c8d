using System.Text.Json;
using Heaven.Statuses;
using Heaven.WorkItems;

namespace Heaven.Operations;

/// <summary>What an outbox item carries, read from its payload: the deployment and the state it reports, or the commit.</summary>
internal sealed record OutboxSubject(long? GitHubDeploymentId, string? State, string? Description, string? Commit)
{
    private static readonly OutboxSubject Unknown = new(null, null, null, null);

    public static OutboxSubject Of(string kind, string payloadJson)
    {
        try
        {
            if (kind == WorkItemKinds.PostDeploymentStatus)
            {
                return DeploymentStatusPayload.FromJson(payloadJson) is { } status
                    ? new OutboxSubject(status.GitHubDeploymentId, Heaven.GitHub.OctokitGitHub.StateName(status.State), status.Description, null)
                    : Unknown;
            }

            using var json = JsonDocument.Parse(payloadJson);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Unknown;
            }

            if (root.TryGetProperty("deployment", out var deployment) && deployment.ValueKind == JsonValueKind.Object)
            {
                // A deployment_status event, or a chat message made from one.
                var status = root.TryGetProperty("deployment_status", out var s) && s.ValueKind == JsonValueKind.Object ? s : default;
                return new OutboxSubject(
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
            return new OutboxSubject(null, outcome, context, sha);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return Unknown;
        }
    }

    private static string? StringOf(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
