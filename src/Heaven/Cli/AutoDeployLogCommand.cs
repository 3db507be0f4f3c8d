using System.Globalization;
using Heaven.Operations;
using Heaven.Repositories;
using Microsoft.Extensions.Options;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven autodeploy-log &lt;owner/repo&gt;</c>: the newest auto-deploy decisions for a repository and
/// their reasons, for an operator asking "why did (or didn't) this commit deploy itself?".
/// </summary>
internal static class AutoDeployLogCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        if (args.Length < 1 || args[0].StartsWith('-') || !args[0].Contains('/', StringComparison.Ordinal))
        {
            error.WriteLine("Usage: heaven autodeploy-log <owner/repo> [--limit N]");
            return 2;
        }

        var repository = args[0];
        var arguments = ListArguments.Parse(args.Skip(1), defaultLimit: 30);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var configured = app.Services.GetRequiredService<IOptions<RepositoryOptions>>().Value.For(repository)?.AutoDeploy;
        var rows = await app.Services.GetRequiredService<ActivityQueries>().AutoDeployDecisionsAsync(repository, Math.Min(arguments.Limit, ActivityQueries.MaxLimit), cancellationToken);

        output.WriteLine(configured is null
            ? $"Auto-deploy is off for {repository}: set {RepositoryOptions.Section}:{repository}:AutoDeploy:Environments to turn it on."
            : $"Auto-deploy for {repository}: {string.Join(", ", configured.Environments)} when {(configured.RequiresAllContexts ? "every context" : string.Join(", ", configured.Contexts))} is green.");
        if (rows.Count == 0)
        {
            output.WriteLine("No auto-deploy decisions recorded yet.");
            return 0;
        }

        output.WriteLine($"{"DECIDED (UTC)",-19}  {"SHA",-7}  {"ENVIRONMENT",-16} {"TRIGGER",-32} DECISION");
        foreach (var row in rows)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row.DecidedAt:yyyy-MM-dd HH:mm:ss}  {row.ShortSha,-7}  {row.Environment,-16} {row.Trigger,-32} {row.Outcome}: {row.Reason}"));
        }

        return 0;
    }
}
