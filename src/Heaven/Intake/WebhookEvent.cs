using System.Buffers;
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
        : WebhookEvent(Name, Action, Repository)
    {
        /// <summary>GitHub's id of the status a <c>deployment_status</c> event reports (<c>deployment_status.id</c>), when it has one.</summary>
        public long? DeploymentStatusId { get; init; }
    }

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
    /// <summary>
    /// The deepest nesting read: System.Text.Json's default, so every component that later reads a
    /// stored event or payload with the defaults can read whatever intake accepted.
    /// </summary>
    public const int MaxDepth = DeploymentPayload.MaxDepth;

    /// <summary>
    /// The string fields of each event that Heaven's components write into logs and messages; they
    /// must pass <see cref="LoggedName"/> (the deployment event's are checked on its typed request).
    /// </summary>
    private static readonly Dictionary<string, string[]> LoggedFields = new(StringComparer.Ordinal)
    {
        ["deployment_status"] = ["deployment_status.state", "deployment.environment", "deployment.ref", "deployment.task", "deployment.sha"],
        ["status"] = ["sha", "state", "context"],
        ["check_suite"] = ["check_suite.head_sha", "check_suite.head_branch", "check_suite.conclusion", "check_suite.app.slug", "check_suite.app.name"],
        ["ping"] = ["organization.login"],
    };

    public static WebhookEvent Read(string eventName, ReadOnlyMemory<byte> body) => Read(eventName, new ReadOnlySequence<byte>(body));

    public static WebhookEvent Read(string eventName, in ReadOnlySequence<byte> body)
    {
        JsonDocument document;
        try
        {
            // A member named twice is refused: whichever of the two a later reader took, the event
            // could say one thing to intake (which chose the secret) and another to that reader.
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new MalformedPayloadException(NestedTooDeep(body)
                ? $"The body is nested deeper than {MaxDepth} levels, the most Heaven reads."
                : $"The body is not valid JSON ({e.Message}).");
        }

        if (HasInvalidEscape(body))
        {
            document.Dispose();
            throw new MalformedPayloadException("The body has a string with an unpaired surrogate escape (such as \\ud800 alone), which is not text.");
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
            RefuseUnloggable("repository.full_name", repository);
            foreach (var path in LoggedFields.GetValueOrDefault(eventName, []))
            {
                RefuseUnloggable(path, StringAt(root, path));
            }

            return eventName switch
            {
                "deployment" => new WebhookEvent.Deployment(action, ReadDeployment(root)),
                "deployment_status" => ForWorkItem(root, eventName, action, repository, "deployment_status.state", "deployment.id") with
                {
                    DeploymentStatusId = root.GetProperty("deployment_status").TryGetProperty("id", out var statusId) && statusId.ValueKind == JsonValueKind.Number && statusId.TryGetInt64(out var id) ? id : null,
                },
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
        var task = OptionalString(deployment, "task");

        var request = new DeploymentRequest(
            GitHubDeploymentId: RequiredId(deployment, "id", "deployment.id"),
            Repository: fullName,
            CloneUrl: cloneUrl,
            Ref: RequiredString(deployment, "ref", "deployment.ref"),
            Sha: RequiredString(deployment, "sha", "deployment.sha"),
            Task: task ?? payload.Task ?? "deploy",
            Environment: RequiredString(deployment, "environment", "deployment.environment"),
            Payload: payload,
            Description: OptionalString(deployment, "description"),
            CreatorLogin: deployment.TryGetProperty("creator", out var creator) && creator.ValueKind == JsonValueKind.Object
                ? OptionalString(creator, "login")
                : null,
            App: ExclusivityKey.AppOf(fullName, payload.Name));

        // What the deploy engine, the locks and the notifiers write into logs and messages.
        RefuseUnloggable("deployment.environment", request.Environment);
        RefuseUnloggable("deployment.ref", request.Ref);
        RefuseUnloggable("deployment.sha", request.Sha);
        RefuseUnloggable(task is null ? "deployment.payload.task" : "deployment.task", request.Task);
        RefuseUnloggable("deployment.creator.login", request.CreatorLogin);
        RefuseUnloggable("deployment.payload.name", payload.Name);
        RefuseUnloggable("deployment.payload.config.provider", payload.Provider);
        RefuseUnloggable("deployment.payload.notify.user", payload.NotifyUser);
        RefuseUnloggable("deployment.payload.notify.user_name", payload.NotifyUserName);
        return request;
    }

    private static void RefuseUnloggable(string path, string? value)
    {
        if (value is not null && LoggedName.Problem(value) is { } problem)
        {
            // The value itself is not repeated: it is what must not reach the log.
            throw new MalformedPayloadException($"The payload's {path} contains {problem}; Heaven refuses such characters in names it writes to its logs and messages.");
        }
    }

    /// <summary>The string at a dotted path of objects, or null.</summary>
    private static string? StringAt(JsonElement root, string path)
    {
        var element = root;
        foreach (var segment in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element))
            {
                return null;
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString() : null;
    }

    /// <summary>
    /// Whether a string in the body is an escape of half a surrogate pair (<c>"\ud800"</c>): valid JSON,
    /// but no string, so every component reading that field would fail on it later.
    /// </summary>
    private static bool HasInvalidEscape(in ReadOnlySequence<byte> body)
    {
        // A quick look for "\u" + d800-dfff first: real payloads seldom escape surrogates at all.
        var scan = new SequenceReader<byte>(body);
        var suspect = false;
        while (!suspect && scan.TryAdvanceTo((byte)'\\'))
        {
            if (scan.TryRead(out var escaped) && escaped == (byte)'u' && scan.TryRead(out var first) && scan.TryPeek(out var second))
            {
                suspect = first is (byte)'d' or (byte)'D' && second is >= (byte)'8' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
            }
        }

        if (!suspect)
        {
            return false;
        }

        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Whether a body the parser refused is nested deeper than <see cref="MaxDepth"/> before it stops being JSON.</summary>
    private static bool NestedTooDeep(in ReadOnlySequence<byte> body)
    {
        // Only bodies with a valid signature get here; the reader's own limit is lifted to see past ours.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = int.MaxValue });
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth >= MaxDepth && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    return true;
                }
            }
        }
        catch (JsonException)
        {
            // Broken before it got too deep: plain invalid JSON.
        }

        return false;
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
