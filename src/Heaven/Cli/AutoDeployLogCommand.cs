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
    public static readonly CliCommand Command = new(
        "autodeploy-log",
        "heaven autodeploy-log <owner/repo> [--limit N]",
        "show what auto-deploy decided for a repository's commits, and why",
        "First the repository's auto-deploy settings, then the newest decisions: the commit, the environment, what triggered it and what was decided.",
        RunAsync)
    {
        Arguments = [new CliArgument("<owner/repo>", "the repository")],
        Options = [CliOption.Number("--limit", "N", "how many decisions (default 30)")],
    };

    private static async Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var repository = arguments.Positionals[0];
        if (!repository.Contains('/', StringComparison.Ordinal))
        {
            throw new UsageException($"'{repository}' is not a repository: write it owner/repo.");
        }

        var limit = arguments.Limit(30);
        var app = await terminal.PrepareAsync(arguments.Settings, cancellationToken);
        var configured = app.Services.GetRequiredService<IOptions<RepositoryOptions>>().Value.For(repository)?.AutoDeploy;
        var rows = await app.Services.GetRequiredService<ActivityQueries>().AutoDeployDecisionsAsync(repository, limit, cancellationToken);

        output.WriteLine(configured is null
            ? $"Auto-deploy is off for {repository}: set {RepositoryOptions.Section}:{repository}:AutoDeploy:Environments to turn it on."
            : $"Auto-deploy for {repository}: {string.Join(", ", configured.Environments)} when {(configured.RequiresAllContexts ? "every context" : string.Join(", ", configured.Contexts))} is green.");
        if (rows.Count == 0)
        {
            output.WriteLine("No auto-deploy decisions recorded yet.");
            return 0;
        }

        var table = new TableWriter("DECIDED (UTC)", "SHA", "ENVIRONMENT", "TRIGGER", "DECISION");
        foreach (var row in rows)
        {
            table.Add(row.DecidedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), row.ShortSha, row.Environment, row.Trigger, $"{row.Outcome}: {row.Reason}");
        }

        table.WriteTo(output);
        return 0;
    }
}
