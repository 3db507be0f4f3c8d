using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.GitHub;
using Heaven.Model;

namespace Heaven.Notifications;

/// <summary>What a deployment status means for the people in the chat room.</summary>
internal enum DeploymentOutcome
{
    /// <summary><c>pending</c>, <c>queued</c>, <c>in_progress</c>: all read as "started".</summary>
    Started,
    Succeeded,
    Failed,
    Errored,
}

/// <summary>One piece of a message: text, a link with its text, or a line break. Each service renders them its own way.</summary>
internal abstract record MessagePart
{
    public sealed record Text(string Value) : MessagePart;

    /// <summary>
    /// A link. <see cref="Standalone"/> links ("View log", "Compare …") are worth their address in
    /// plain text, where a service shows no links; the others (repository, branch, commit) are not.
    /// </summary>
    public sealed record Link(string Url, string Value) : MessagePart
    {
        public bool Standalone { get; init; }
    }

    public sealed record LineBreak : MessagePart;
}

/// <summary>The deployment before this one in the same environment, for the compare link of a "started" message.</summary>
internal sealed record PreviousDeployment(string Sha, string CompareUrl)
{
    public string ShortSha => CommitSha.Abbreviated(Sha);
}

/// <summary>One commit a deployment shipped: its message's first line, and who wrote it.</summary>
internal sealed record ShippedCommit(string Sha, string Title, string? Author, string? Url)
{
    public string ShortSha => CommitSha.Abbreviated(Sha);
}

/// <summary>
/// What a successful deployment shipped since the environment's previous successful one:
/// <see cref="Total"/> commits, of which <see cref="Commits"/> (newest first, at most the configured limit) are listed.
/// </summary>
internal sealed record ShippedCommits(int Total, IReadOnlyList<ShippedCommit> Commits, string? CompareUrl);

/// <summary>
/// A <c>deployment_status</c> event reduced to what a chat message says: who deployed what to which
/// environment, and how it went. Read defensively: the event may come from any deployment system,
/// and a payload without <c>notify</c> (which crashed the original) is normal.
/// </summary>
internal sealed record DeploymentNotification(
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
    public string? ShortSha => Sha is null ? null : CommitSha.Abbreviated(Sha);

    /// <summary>GitHub's id of the deployment.</summary>
    public long? DeploymentId { get; init; }

    /// <summary>The deployment's task (<c>deploy</c>, <c>deploy:migrations</c>, <c>deploy:lock</c>).</summary>
    public string? DeploymentTask { get; init; }

    /// <summary>For a "started" message: the environment's previous deployment (looked up at send time).</summary>
    public PreviousDeployment? Previous { get; init; }

    /// <summary>For a "deployed" message: the commits shipped (looked up at send time, when enabled).</summary>
    public ShippedCommits? Shipped { get; init; }

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
        var payload = DeploymentPayload.From(deployment["payload"]);
        var user = payload.Deployer(Str(deployment["creator"]?["login"])) ?? Str(root["sender"]?["login"]) ?? "unknown";

        TimeSpan? duration = null;
        if (outcome != DeploymentOutcome.Started && Time(deployment["created_at"]) is { } started && Time(status["created_at"]) is { } finished && finished >= started)
        {
            duration = finished - started;
        }

        return new DeploymentNotification(
            outcome.Value,
            state,
            Str(repository?["full_name"]) ?? payload.Name ?? "unknown repository",
            Str(repository?["html_url"]),
            Str(deployment["ref"]),
            Str(deployment["sha"]),
            Str(deployment["environment"]) ?? "production",
            user,
            Str(status["log_url"]) ?? Str(status["target_url"]),
            Str(status["description"]),
            duration,
            payload.NotifyRoom)
        {
            DeploymentId = deployment["id"] is JsonValue id && id.TryGetValue<long>(out var number) ? number : null,
            DeploymentTask = Str(deployment["task"]) ?? payload.Task,
        };
    }

    /// <summary>
    /// The same message with every text a person or a service reads masked: names, description,
    /// links, the shipped commits. Masked as values, before a service escapes them (escaped, "&amp;"
    /// in a secret would no longer be found). The sha and the state are GitHub's, not text.
    /// </summary>
    public DeploymentNotification Masked(ISecretMasker masker)
    {
        ArgumentNullException.ThrowIfNull(masker);
        string? Mask(string? text) => text is null ? null : masker.Mask(text);
        return this with
        {
            Repository = masker.Mask(Repository),
            RepositoryUrl = Mask(RepositoryUrl),
            Ref = Mask(Ref),
            Environment = masker.Mask(Environment),
            User = masker.Mask(User),
            LogUrl = Mask(LogUrl),
            Description = Mask(Description),
            Room = Mask(Room),
            DeploymentTask = Mask(DeploymentTask),
            Previous = Previous is { } previous ? previous with { CompareUrl = masker.Mask(previous.CompareUrl) } : null,
            Shipped = Shipped is { } shipped
                ? shipped with
                {
                    CompareUrl = Mask(shipped.CompareUrl),
                    Commits = [.. shipped.Commits.Select(c => c with { Title = masker.Mask(c.Title), Author = Mask(c.Author), Url = Mask(c.Url) })],
                }
                : null,
        };
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
        var links = new List<MessagePart>();
        if (!string.IsNullOrEmpty(LogUrl))
        {
            links.Add(new MessagePart.Link(LogUrl, "View log") { Standalone = true });
        }

        if (Outcome == DeploymentOutcome.Started && Previous is { } previous)
        {
            links.Add(new MessagePart.Link(previous.CompareUrl, $"Compare {previous.ShortSha}...{ShortSha}") { Standalone = true });
        }

        for (var i = 0; i < links.Count; i++)
        {
            parts.Add(new MessagePart.Text(i == 0 ? " " : " · "));
            parts.Add(links[i]);
        }

        if (Outcome == DeploymentOutcome.Succeeded && Shipped is { } shipped)
        {
            AddCommits(parts, shipped);
        }

        return parts;
    }

    /// <summary>The first line of the message: what a preview, a fallback or a summary shows.</summary>
    public IReadOnlyList<MessagePart> Headline() => Parts().TakeWhile(p => p is not MessagePart.LineBreak).ToList();

    /// <summary>The first line as plain text (links as their text), for fallbacks and summaries.</summary>
    public string PlainText() => Render(Headline(), t => t, (_, text) => text, "\n");

    /// <summary>
    /// The whole message as plain text for services that show no links: standalone links as
    /// "View log: &lt;url&gt;" (chat clients turn a bare address into a link), the others as their text.
    /// </summary>
    public string PlainTextWithUrls()
    {
        var builder = new StringBuilder();
        foreach (var part in Parts())
        {
            builder.Append(part switch
            {
                MessagePart.Link { Standalone: true } l => $"{l.Value}: {l.Url}",
                MessagePart.Link l => l.Value,
                MessagePart.Text t => t.Value,
                MessagePart.LineBreak => "\n",
                _ => string.Empty,
            });
        }

        return builder.ToString();
    }

    /// <summary>
    /// Renders the whole message with a service's escaping, link syntax and line break. Every text is
    /// escaped, link texts included, before <paramref name="link"/> sees it; the address it gets is
    /// already cleaned (<see cref="LinkAddress"/>), and the service adds what its own syntax needs.
    /// </summary>
    public string Render(Func<string, string> escape, Func<string, string, string> link, string lineBreak = "\n") =>
        Render(Parts(), escape, link, lineBreak);

    private static string Render(IEnumerable<MessagePart> parts, Func<string, string> escape, Func<string, string, string> link, string lineBreak)
    {
        var builder = new StringBuilder();
        foreach (var part in parts)
        {
            builder.Append(part switch
            {
                // An address that is not http(s) (javascript:, a relative path) is shown as its text only.
                MessagePart.Link l => LinkAddress.Clean(l.Url) is { } url ? link(url, escape(l.Value)) : escape(l.Value),
                MessagePart.Text t => escape(t.Value),
                MessagePart.LineBreak => lineBreak,
                _ => string.Empty,
            });
        }

        return builder.ToString();
    }

    /// <summary>"Total Commits: N", then a line a commit, newest first: "abc1234 by alice: Fix the login page".</summary>
    private static void AddCommits(List<MessagePart> parts, ShippedCommits shipped)
    {
        parts.Add(new MessagePart.LineBreak());
        parts.Add(new MessagePart.Text(string.Create(CultureInfo.InvariantCulture, $"Total Commits: {shipped.Total}")));
        foreach (var commit in shipped.Commits)
        {
            parts.Add(new MessagePart.LineBreak());
            parts.Add(Linked(commit.Url, commit.ShortSha));
            parts.Add(new MessagePart.Text(commit.Author is { } author ? $" by {author}: {commit.Title}" : $": {commit.Title}"));
        }

        var more = shipped.Total - shipped.Commits.Count;
        if (more > 0)
        {
            var text = string.Create(CultureInfo.InvariantCulture, $"{more} more {(more == 1 ? "commit" : "commits")}");
            parts.Add(new MessagePart.LineBreak());
            parts.Add(new MessagePart.Text("… and "));
            parts.Add(shipped.CompareUrl is { } url ? new MessagePart.Link(url, text) { Standalone = true } : new MessagePart.Text(text));
        }
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

    private static string? Str(JsonNode? node) => GitHubJson.Text(node);

    private static DateTimeOffset? Time(JsonNode? node) => GitHubJson.Time(node);
}
