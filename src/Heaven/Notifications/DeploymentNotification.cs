using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Heaven.Notifications;

/// <summary>What a deployment status means for the people in the chat room.</summary>
public enum DeploymentOutcome
{
    /// <summary><c>pending</c>, <c>queued</c>, <c>in_progress</c>: all read as "started".</summary>
    Started,
    Succeeded,
    Failed,
    Errored,
}

/// <summary>One piece of a message: text, or a link with its text. Each service renders links its own way.</summary>
public abstract record MessagePart
{
    public sealed record Text(string Value) : MessagePart;

    public sealed record Link(string Url, string Value) : MessagePart;
}

/// <summary>
/// A <c>deployment_status</c> event reduced to what a chat message says: who deployed what to which
/// environment, and how it went. Read defensively: the event may come from any deployment system,
/// and a payload without <c>notify</c> (which crashed the original) is normal.
/// </summary>
public sealed record DeploymentNotification(
    DeploymentOutcome Outcome,
    string State,
    string Repository,
    string? RepositoryUrl,
    string? Ref,
    string? Sha,
    string Environment,
    string User,
    string? LogUrl,
    string? Description,
    TimeSpan? Duration,
    string? Room)
{
    public string? ShortSha => Sha is { Length: > 7 } ? Sha[..7] : Sha;

    /// <summary>
    /// Reads a webhook payload. Returns null for states nobody is told about (<c>inactive</c>, which
    /// GitHub sets on older deployments, and anything unknown: the original skipped those as well).
    /// </summary>
    /// <exception cref="FormatException">The payload is not a deployment_status event.</exception>
    public static DeploymentNotification? FromWebhook(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"The event is not JSON: {e.Message}", e);
        }

        var status = root?["deployment_status"] as JsonObject ?? throw new FormatException("The event has no deployment_status object.");
        var deployment = root!["deployment"] as JsonObject ?? status["deployment"] as JsonObject
            ?? throw new FormatException("The event has no deployment object.");
        var state = Str(status["state"]) ?? throw new FormatException("The deployment status has no state.");
        DeploymentOutcome? outcome = state switch
        {
            "pending" or "queued" or "in_progress" => DeploymentOutcome.Started,
            "success" => DeploymentOutcome.Succeeded,
            "failure" => DeploymentOutcome.Failed,
            "error" => DeploymentOutcome.Errored,
            _ => null,
        };
        if (outcome is null)
        {
            return null;
        }

        var repository = root["repository"] as JsonObject;
        var payload = PayloadObject(deployment["payload"]);
        var notify = payload?["notify"] as JsonObject;
        var user = Str(notify?["user"]) ?? Str(deployment["creator"]?["login"]) ?? Str(root["sender"]?["login"]) ?? "unknown";

        TimeSpan? duration = null;
        if (outcome != DeploymentOutcome.Started && Time(deployment["created_at"]) is { } started && Time(status["created_at"]) is { } finished && finished >= started)
        {
            duration = finished - started;
        }

        return new DeploymentNotification(
            outcome.Value,
            state,
            Str(repository?["full_name"]) ?? Str(payload?["name"]) ?? "unknown repository",
            Str(repository?["html_url"]),
            Str(deployment["ref"]),
            Str(deployment["sha"]),
            Str(deployment["environment"]) ?? "production",
            user,
            Str(status["log_url"]) ?? Str(status["target_url"]),
            Str(status["description"]),
            duration,
            Str(notify?["room"]));
    }

    /// <summary>
    /// The message, in the original's spirit: "alice is deploying owner/repo/main (abc1234) to
    /// production", then "deployed … in 1m 5s", "failed to deploy …", "had an error deploying …: why".
    /// </summary>
    public IReadOnlyList<MessagePart> Parts()
    {
        var parts = new List<MessagePart>();
        var verb = Outcome switch
        {
            DeploymentOutcome.Started => " is deploying ",
            DeploymentOutcome.Succeeded => " deployed ",
            DeploymentOutcome.Failed => " failed to deploy ",
            _ => " had an error deploying ",
        };
        parts.Add(new MessagePart.Text(User + verb));
        parts.Add(Linked(RepositoryUrl, Repository));
        if (!string.IsNullOrEmpty(Ref))
        {
            parts.Add(new MessagePart.Text("/"));
            parts.Add(Linked(RepositoryUrl is null ? null : $"{RepositoryUrl}/tree/{Uri.EscapeDataString(Ref).Replace("%2F", "/", StringComparison.Ordinal)}", Ref));
        }

        if (!string.IsNullOrEmpty(Sha))
        {
            parts.Add(new MessagePart.Text(" ("));
            parts.Add(Linked(RepositoryUrl is null ? null : $"{RepositoryUrl}/commit/{Sha}", ShortSha!));
            parts.Add(new MessagePart.Text(")"));
        }

        parts.Add(new MessagePart.Text($" to {Environment}"));
        if (Duration is { } duration)
        {
            parts.Add(new MessagePart.Text($" in {FormatDuration(duration)}"));
        }

        parts.Add(new MessagePart.Text(Outcome == DeploymentOutcome.Errored && !string.IsNullOrWhiteSpace(Description) ? $": {Description.Trim()}" : "."));
        if (!string.IsNullOrEmpty(LogUrl))
        {
            parts.Add(new MessagePart.Text(" "));
            parts.Add(new MessagePart.Link(LogUrl, "View log"));
        }

        return parts;
    }

    /// <summary>The message as plain text (links as their text), for fallbacks and summaries.</summary>
    public string PlainText() => Render(t => t, (_, text) => text);

    /// <summary>Renders the parts with a service's escaping and link syntax.</summary>
    public string Render(Func<string, string> escape, Func<string, string, string> link)
    {
        var builder = new StringBuilder();
        foreach (var part in Parts())
        {
            builder.Append(part switch
            {
                MessagePart.Link l => link(l.Url, escape(l.Value)),
                MessagePart.Text t => escape(t.Value),
                _ => string.Empty,
            });
        }

        return builder.ToString();
    }

    public static string FormatDuration(TimeSpan duration)
    {
        if (duration < TimeSpan.FromMinutes(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)duration.TotalSeconds)}s");
        }

        return duration < TimeSpan.FromHours(1)
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalMinutes}m {duration.Seconds}s")
            : string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalHours}h {duration.Minutes}m");
    }

    private static MessagePart Linked(string? url, string text) => url is null ? new MessagePart.Text(text) : new MessagePart.Link(url, text);

    private static string? Str(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) && !string.IsNullOrEmpty(text) ? text : null;

    private static DateTimeOffset? Time(JsonNode? node) =>
        Str(node) is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;

    /// <summary>hubot-deploy sends the payload as an object; some tools send it as a JSON string.</summary>
    private static JsonObject? PayloadObject(JsonNode? node)
    {
        if (node is JsonObject obj)
        {
            return obj;
        }

        if (Str(node) is { } text)
        {
            try
            {
                return JsonNode.Parse(text) as JsonObject;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        return null;
    }
}
