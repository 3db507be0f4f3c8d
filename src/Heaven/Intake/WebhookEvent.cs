using System.Text.Json;
using Heaven.Model;

namespace Heaven.Intake;

/// <summary>What an authenticated, well-formed delivery asks Heaven to do.</summary>
public abstract record WebhookEvent(string Name, string? Action, string? Repository)
{
    /// <summary>A <c>deployment</c> event: a deployment to run.</summary>
    public sealed record Deployment(string? Action, DeploymentRequest Request)
        : WebhookEvent("deployment", Action, Request.Repository);

    /// <summary><c>deployment_status</c>, <c>status</c>, <c>check_suite</c>: recorded for the component that acts on it.</summary>
    public sealed record ForWorkItem(string Name, string? Action, string? Repository, string Kind, string PayloadJson)
        : WebhookEvent(Name, Action, Repository);

    /// <summary>GitHub saying hello after a hook is created or tested.</summary>
    public sealed record Ping(string? Repository, long? HookId, string? HookType, string? Target, string? Events)
        : WebhookEvent("ping", null, Repository);

    /// <summary>An event type Heaven does not act on; answered so the hook stays green.</summary>
    public sealed record Unhandled(string Name, string? Action, string? Repository)
        : WebhookEvent(Name, Action, Repository);
}

/// <summary>The fields of a <c>deployment</c> event that the deploy engine needs.</summary>
public sealed record DeploymentRequest(
    long GitHubDeploymentId,
    string Repository,
    string CloneUrl,
    string Ref,
    string Sha,
    string Task,
    string Environment,
    DeploymentPayload Payload,
    string? Description,
    string? CreatorLogin,
    string App);

/// <summary>A well-signed delivery whose body is not what its event needs: answered 400.</summary>
internal sealed class MalformedPayloadException(string message) : Exception(message);

/// <summary>Reads a webhook body into a <see cref="WebhookEvent"/>, saying exactly what is missing when it can't.</summary>
public static class WebhookEventReader
{
    public static WebhookEvent Read(string eventName, ReadOnlyMemory<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException e)
        {
            throw new MalformedPayloadException($"The body is not valid JSON ({e.Message}).");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new MalformedPayloadException("The body must be a JSON object, as GitHub sends it.");
            }

            var action = OptionalString(root, "action");
            var repository = root.TryGetProperty("repository", out var repo) && repo.ValueKind == JsonValueKind.Object
                ? OptionalString(repo, "full_name")
                : null;

            return eventName switch
            {
                "deployment" => new WebhookEvent.Deployment(action, ReadDeployment(root)),
                "deployment_status" => ForWorkItem(root, eventName, action, repository, "deployment_status.state", "deployment.id"),
                "status" => ForWorkItem(root, eventName, action, repository, "sha", "state"),
                "check_suite" => ForWorkItem(root, eventName, action, repository, "check_suite.head_sha"),
                "ping" => ReadPing(root, repository),
                _ => new WebhookEvent.Unhandled(eventName, action, repository),
            };
        }
    }

    private static DeploymentRequest ReadDeployment(JsonElement root)
    {
        var deployment = RequiredObject(root, "deployment", "deployment");
        var repository = RequiredObject(root, "repository", "repository");
        var fullName = RequiredString(repository, "full_name", "repository.full_name");
        var cloneUrl = RequiredString(repository, "clone_url", "repository.clone_url");

        // Read once, here: every later step uses this payload (an object, or a string holding one).
        var payload = deployment.TryGetProperty("payload", out var given) ? DeploymentPayload.From(given) : DeploymentPayload.Empty;

        return new DeploymentRequest(
            GitHubDeploymentId: RequiredId(deployment, "id", "deployment.id"),
            Repository: fullName,
            CloneUrl: cloneUrl,
            Ref: RequiredString(deployment, "ref", "deployment.ref"),
            Sha: RequiredString(deployment, "sha", "deployment.sha"),
            Task: OptionalString(deployment, "task") ?? payload.Task ?? "deploy",
            Environment: RequiredString(deployment, "environment", "deployment.environment"),
            Payload: payload,
            Description: OptionalString(deployment, "description"),
            CreatorLogin: deployment.TryGetProperty("creator", out var creator) && creator.ValueKind == JsonValueKind.Object
                ? OptionalString(creator, "login")
                : null,
            App: ExclusivityKey.AppOf(fullName, payload.Name));
    }

    private static WebhookEvent.ForWorkItem ForWorkItem(JsonElement root, string eventName, string? action, string? repository, params string[] requiredPaths)
    {
        if (repository is null)
        {
            throw new MalformedPayloadException($"The {eventName} payload has no repository.full_name.");
        }

        foreach (var path in requiredPaths)
        {
            var element = root;
            foreach (var segment in path.Split('.'))
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element) || element.ValueKind == JsonValueKind.Null)
                {
                    throw new MalformedPayloadException($"The {eventName} payload has no {path}.");
                }
            }
        }

        return new WebhookEvent.ForWorkItem(eventName, action, repository, eventName, root.GetRawText());
    }

    private static WebhookEvent.Ping ReadPing(JsonElement root, string? repository)
    {
        long? hookId = root.TryGetProperty("hook_id", out var id) && id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var value) ? value : null;
        string? type = null, events = null;
        if (root.TryGetProperty("hook", out var hook) && hook.ValueKind == JsonValueKind.Object)
        {
            type = OptionalString(hook, "type");
            if (hook.TryGetProperty("events", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                events = string.Join(",", list.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()));
            }
        }

        var target = repository;
        if (target is null && root.TryGetProperty("organization", out var organization) && organization.ValueKind == JsonValueKind.Object)
        {
            target = OptionalString(organization, "login");
        }

        return new WebhookEvent.Ping(repository, hookId, type, target, events);
    }

    private static JsonElement RequiredObject(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Object)
        {
            throw new MalformedPayloadException($"The payload has no {path} object.");
        }

        return value;
    }

    private static string RequiredString(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || value.GetString()!.Length == 0)
        {
            throw new MalformedPayloadException($"The payload has no {path} (a non-empty string).");
        }

        return value.GetString()!;
    }

    private static long RequiredId(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var id) || id <= 0)
        {
            throw new MalformedPayloadException($"The payload has no {path} (a positive number).");
        }

        return id;
    }

    private static string? OptionalString(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
