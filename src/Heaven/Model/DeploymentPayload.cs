using System.Text.Json;
using System.Text.Json.Nodes;

namespace Heaven.Model;

/// <summary>
/// A deployment's <c>payload</c>, read once: at intake from the webhook, or from GitHub's deployments
/// API, or from a stored record. Every component reads the fields Heaven uses from here, so they
/// agree on what "the provider", "the deploy script" and "who deployed" mean.
/// </summary>
/// <remarks>
/// GitHub once stored payloads as strings and old clients still send them so; hubot-deploy sends
/// objects. Both are accepted; anything else (a number, an array, text that is not a JSON object)
/// is an empty payload.
/// </remarks>
public sealed class DeploymentPayload
{
    // A JsonElement of its own (cloned): reading a few fields at intake costs no node tree, and the
    // stored text is the payload as it came.
    private readonly JsonElement root;

    private DeploymentPayload(JsonElement root) => this.root = root;

    /// <summary>The deepest nesting read: System.Text.Json's default, which every later reader and writer of a payload uses.</summary>
    public const int MaxDepth = 64;

    public static DeploymentPayload Empty { get; } = Parse("{}");

    /// <summary>The payload as GitHub sends it: an object, or a string holding one.</summary>
    public static DeploymentPayload From(JsonNode? payload) => payload switch
    {
        JsonObject value => Parse(value.ToJsonString()),
        JsonValue value when value.TryGetValue<string>(out var text) => Parse(text),
        _ => Empty,
    };

    /// <summary>The payload as GitHub sends it: an object, or a string holding one.</summary>
    public static DeploymentPayload From(JsonElement payload) => payload.ValueKind switch
    {
        JsonValueKind.Object => new(payload.Clone()),
        JsonValueKind.String => Parse(payload.GetString()),
        _ => Empty,
    };

    /// <summary>A JSON object's text (as stored); anything else is an empty payload.</summary>
    public static DeploymentPayload Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return Empty;
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxDepth });
            return document.RootElement.ValueKind == JsonValueKind.Object ? new(document.RootElement.Clone()) : Empty;
        }
        catch (JsonException)
        {
            return Empty;
        }
    }

    /// <summary>The whole payload as a JSON object's text, nested objects intact.</summary>
    public string ToJson() => root.GetRawText();

    /// <summary>A copy of the whole payload, for a tool that reads fields of its own (<c>aws.region</c>, ...).</summary>
    public JsonObject ToJsonObject() => JsonObject.Create(root)!.DeepClone().AsObject();

    /// <summary><c>payload.config</c> (a copy), or an empty object.</summary>
    public JsonObject Config => Section("config");

    /// <summary>A copy of the top-level object <paramref name="name"/> (<c>config</c>, <c>aws</c>, ...), or an empty object.</summary>
    public JsonObject Section(string name) =>
        root.TryGetProperty(name, out var section) && section.ValueKind == JsonValueKind.Object ? JsonObject.Create(section)!.DeepClone().AsObject() : [];

    /// <summary><c>payload.config.provider</c>: which provider the deployment asks for.</summary>
    public string? Provider => ConfigText("provider");

    /// <summary><c>payload.config.deploy_script</c>: the shell provider's script, relative to the checkout.</summary>
    public string? DeployScript => ConfigText("deploy_script");

    /// <summary><c>payload.config.&lt;environment&gt;_url</c>: where the deployed environment can be seen.</summary>
    public string? EnvironmentUrl(string environment) => ConfigText($"{environment}_url");

    /// <summary>A string setting of <c>payload.config</c>, or null when absent, empty or not a string.</summary>
    public string? ConfigText(string key) => Text("config", key);

    /// <summary><c>payload.name</c>: the app being deployed (the original's lock key), when it is not the repository's name.</summary>
    public string? Name => Text(null, "name");

    /// <summary><c>payload.task</c>, for old clients that put the task there.</summary>
    public string? Task => Text(null, "task");

    /// <summary><c>payload.reason</c>: why an environment is locked.</summary>
    public string? Reason => Text(null, "reason");

    /// <summary><c>payload.auto_deploy</c>: the deployment was created by auto-deploy.</summary>
    public bool AutoDeploy => root.TryGetProperty("auto_deploy", out var value) && value.ValueKind == JsonValueKind.True;

    /// <summary><c>payload.notify.room</c>: the chat room to tell.</summary>
    public string? NotifyRoom => Text("notify", "room");

    /// <summary><c>payload.notify.user</c>: the chat user who asked (hubot-deploy).</summary>
    public string? NotifyUser => Text("notify", "user");

    /// <summary><c>payload.notify.user_name</c>: the chat user's display name (hubot-deploy).</summary>
    public string? NotifyUserName => Text("notify", "user_name");

    /// <summary><c>payload.notify.adapter</c>: the chat service hubot runs on.</summary>
    public string? NotifyAdapter => Text("notify", "adapter");

    /// <summary>
    /// Who deployed, one rule everywhere (chat messages, locks, the log): the chat user hubot-deploy
    /// names (<c>notify.user</c>, the original's chat user), else its display name, else the login
    /// that created the deployment on GitHub (bots create deployments on people's behalf, so the
    /// chat user wins). Null when nobody is named.
    /// </summary>
    public string? Deployer(string? creatorLogin) => NotifyUser ?? NotifyUserName ?? NullIfBlank(creatorLogin);

    /// <summary>A non-blank string at <c>payload.&lt;section&gt;.&lt;key&gt;</c> (or <c>payload.&lt;key&gt;</c>), trimmed.</summary>
    private string? Text(string? section, string key)
    {
        var parent = root;
        if (section is not null && !(root.TryGetProperty(section, out parent) && parent.ValueKind == JsonValueKind.Object))
        {
            return null;
        }

        return parent.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? NullIfBlank(value.GetString()) : null;
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
