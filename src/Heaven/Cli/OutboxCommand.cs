using System.Globalization;
using Heaven.Operations;

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
        var limit = arguments.Limit(30);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var rows = await app.Services.GetRequiredService<ActivityQueries>().OutboxAsync(limit, onlyUnfinished, cancellationToken);
        if (rows.Count == 0)
        {
            output.WriteLine(onlyUnfinished ? "Nothing failed or waiting for a retry." : "The outbox is empty.");
            return 0;
        }

        var table = new TableWriter("ID", "CREATED (UTC)", "KIND", "REPOSITORY", "STATE", "ATTEMPTS", "ABOUT", "NEXT / LAST ERROR");
        foreach (var row in rows)
        {
            var next = row.NextAttemptAt is { } at
                ? string.Create(CultureInfo.InvariantCulture, $"next attempt {at:HH:mm:ss}Z")
                : "";
            var detail = string.Join("; ", new[] { next, row.LastError ?? "" }.Where(t => t.Length > 0));
            table.Add(
                row.Id.ToString(CultureInfo.InvariantCulture),
                row.CreatedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                row.Kind,
                row.Repository ?? "-",
                row.State,
                row.Attempts.ToString(CultureInfo.InvariantCulture),
                About(row),
                detail);
        }

        table.WriteTo(output);
        return 0;
    }

    /// <summary>What an item is about: <c>deployment 12 (gh:345) success "Deployed"</c>, or <c>commit abc1234 success ci/test</c>.</summary>
    private static string About(OutboxItemSummary item)
    {
        var parts = new List<string>();
        if (item.GitHubDeploymentId is { } gh)
        {
            parts.Add(item.DeploymentId is { } id
                ? string.Create(CultureInfo.InvariantCulture, $"deployment {id} (gh:{gh})")
                : string.Create(CultureInfo.InvariantCulture, $"deployment gh:{gh}"));
        }
        else if (item.Commit is { Length: > 0 } commit)
        {
            parts.Add($"commit {commit[..Math.Min(7, commit.Length)]}");
        }

        if (item.ReportedState is { Length: > 0 } state)
        {
            parts.Add(state);
        }

        if (item.ReportedDescription is { Length: > 0 } description)
        {
            parts.Add($"\"{description}\"");
        }

        return parts.Count == 0 ? "-" : string.Join(' ', parts);
    }
}
