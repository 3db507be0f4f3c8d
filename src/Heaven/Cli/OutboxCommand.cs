using System.Globalization;
using Heaven.Operations;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven outbox</c>: the newest outbox items (statuses for GitHub, chat messages, commit events
/// for auto-deploy) with their attempts and last error, for an operator asking "did Slack get it?".
/// </summary>
internal static class OutboxCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var arguments = ListArguments.Parse(args, defaultLimit: 30, "--problems");
        var onlyUnfinished = arguments.Flags.Contains("--problems");
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var rows = await app.Services.GetRequiredService<ActivityQueries>().OutboxAsync(Math.Min(arguments.Limit, ActivityQueries.MaxLimit), onlyUnfinished, cancellationToken);
        if (rows.Count == 0)
        {
            output.WriteLine(onlyUnfinished ? "Nothing failed or waiting for a retry." : "The outbox is empty.");
            return 0;
        }

        output.WriteLine($"{"ID",-8} {"CREATED (UTC)",-19}  {"KIND",-24} {"REPOSITORY",-30} {"STATE",-8} {"ATTEMPTS",8}  NEXT / LAST ERROR");
        foreach (var row in rows)
        {
            var next = row.NextAttemptAt is { } at
                ? string.Create(CultureInfo.InvariantCulture, $"next attempt {at:HH:mm:ss}Z")
                : "";
            var detail = string.Join("; ", new[] { next, row.LastError ?? "" }.Where(t => t.Length > 0));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{row.Id,-8} {row.CreatedAt:yyyy-MM-dd HH:mm:ss}  {row.Kind,-24} {row.Repository ?? "-",-30} {row.State,-8} {row.Attempts,8}  {detail}"));
        }

        return 0;
    }
}
